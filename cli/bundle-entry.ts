/** The entry tools/bundle.ts bundles into dist/bin/drover.cjs: cli/drover.ts calls main(). */
export { main } from './main.js';
