// Loads the native proxy-wasm host built by `npx napi build --platform --release`
// (in host/node). Only linux-x64-gnu is built here; the error says how to build it.
'use strict'

const { join } = require('node:path')
const { existsSync } = require('node:fs')

const file = join(__dirname, `proxy-wasm-host.${process.platform}-${process.arch}-gnu.node`)
if (!existsSync(file)) {
  throw new Error(
    `native proxy-wasm host not built: ${file} is missing; run \`npx napi build --platform --release\` in host/node`,
  )
}
const binding = require(file)

exports.FilterHost = binding.FilterHost
exports.SharedData = binding.SharedData
