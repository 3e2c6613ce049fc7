/** The inventory API other parts of drover call. */
export { Inventory, type InventoryOptions, loadInventory } from './inventory.js';
export { splitHostPattern } from './pattern.js';
