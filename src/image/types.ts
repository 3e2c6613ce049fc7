/** Image configuration as a build template states it (Packer/Docker `config` fields). */
export interface ImageConfig {
  env?: Record<string, string>;
  entrypoint?: string[];
  cmd?: string[];
  labels?: Record<string, string>;
  user?: string;
  workdir?: string;
  /** "80/tcp", "53/udp"; a bare "80" means tcp. */
  exposedPorts?: string[];
}

/** One layer blob on disk. */
export interface LayerInfo {
  /** sha256:… of the blob as stored (compressed when mediaType says so). */
  digest: string;
  /** sha256:… of the uncompressed tar (rootfs.diff_ids). */
  diffId: string;
  /** Size of the blob in bytes. */
  size: number;
  mediaType: string;
  /** Absolute path of the blob file. */
  blobPath: string;
}

export interface HistoryEntry {
  created: string;
  created_by?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface OciImage {
  layoutDir: string;
  tag: string;
  manifestDigest: string;
  configDigest: string;
  layers: LayerInfo[];
  config: ImageConfig;
  history: HistoryEntry[];
  architecture: string;
  os: string;
}

export const MEDIA_TYPE = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  layerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  layerTar: 'application/vnd.oci.image.layer.v1.tar',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;
