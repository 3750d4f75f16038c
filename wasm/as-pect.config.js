// as-pect 8.1 configuration for the filter's unit tests (pure modules only:
// the host imports are never linked here).  Run from the repo root:
//   npx asp --config wasm/as-pect.config.js --as-config wasm/as-pect.asconfig.json
export default {
  entries: ["wasm/assembly/__tests__/**/*.spec.ts"],
  include: ["wasm/assembly/__tests__/**/*.include.ts"],
  disclude: [/node_modules/],
  async instantiate(memory, createImports, instantiate, binary) {
    return instantiate(binary, createImports({ env: { memory } }));
  },
  outputBinary: false,
};
