/** nunjucks modules the package ships but does not type. */
declare module 'nunjucks/src/transformer.js' {
  const transformer: {
    transform(ast: unknown, asyncFilters: string[], name?: string): unknown;
  };
  export default transformer;
}
