// Loads the native proxy-wasm host built by `npx napi build --platform --release`
// (in host/node). Only the machine's own platform is built; the error says how.
import { createRequire } from 'node:module'
import { existsSync } from 'node:fs'

const url = new URL(`./proxy-wasm-host.${process.platform}-${process.arch}-gnu.node`, import.meta.url)
if (!existsSync(url)) {
  throw new Error(
    `native proxy-wasm host not built: ${url.pathname} is missing; run \`npx napi build --platform --release\` in host/node`,
  )
}
const binding = createRequire(import.meta.url)(url.pathname)

export const FilterHost = binding.FilterHost
export const SharedData = binding.SharedData
