/** Ansible Vault for drover: the API inventory, playbook loading and the CLI call. */
export { VaultError, VaultOptionsError } from './error.js';
export { DEFAULT_VAULT_ID, encryptVaultText, isVaultText, parseEnvelope } from './format.js';
export { Keyring, type KeyringOptions, type OpenedVault, type VaultSecret } from './keyring.js';
export { type PromptFn, promptHidden, promptVisible } from './prompt.js';
export {
  loadVaultSecrets,
  readPasswordSource,
  splitVaultId,
  type VaultCliOptions,
  vaultIdSlugs,
} from './secrets.js';
export {
  createFile,
  decryptFile,
  type EditorOptions,
  editFile,
  editPlaintext,
  encryptFile,
  readSource,
  rekeyFile,
  type StreamOptions,
  writeFileAtomic,
  writeTarget,
} from './vault-file.js';
