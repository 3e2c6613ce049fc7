export { promptHidden } from '../src/vault/index.js';
