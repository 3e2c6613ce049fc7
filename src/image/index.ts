/**
 * Image format library: layers, tar, OCI layouts and artifacts, reproducibly.
 *
 * Notes for callers (differences from the first sketch of this API):
 * - `blobsDir` is a directory of blobs named by their hex digest, the shape of an OCI
 *   layout's `blobs/sha256`; passing `LAYOUT/blobs/sha256` writes layers in place.
 * - `layerFromDir`/`layerFromUpperDir` take `compression?: 'gzip' | 'none'` (default gzip).
 * - `writeOciImage` needs one history entry per layer (entries with `empty_layer: true`
 *   are extra); an empty `history` gets one synthesized entry per layer.
 * - Reading and writing xattrs uses python3 (Node has no xattr API); see docs/adr/101.
 */
export {
  compressFile,
  writeChecksums,
  writeDockerArchive,
  writeOciArchive,
  writeRootfsTar,
} from './archive.js';
export { hashFile, layerTarStream } from './blob.js';
export { compileExcludes, type LayerOptions, layerFromDir, layerFromUpperDir, treeTar } from './layer.js';
export { hostArchitecture, readOciImage, rfc3339, type WriteOciOptions, writeOciImage } from './oci.js';
export { readTar, type TarHeader } from './tar.js';
export type { HistoryEntry, ImageConfig, LayerInfo, OciImage } from './types.js';
export { MEDIA_TYPE } from './types.js';
export { unpackLayers } from './unpack.js';
