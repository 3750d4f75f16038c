-- The Lua router designs the benchmark compares with (GitHub Pages' and the
-- OpenResty balancer one): Host → backend from an ngx.shared.DICT cache, and on
-- a miss a callout to the same route API (/resolve/<host>) through an internal
-- location (Debian packages no lua-resty-http), cached for TTL seconds.
local balancer = require "ngx.balancer"

local M = {}
local routes = ngx.shared.routes
-- GitHub Pages' router cached for 30 s; a change reaches Lua routers only when
-- the entry expires (no change feed here).
local TTL = 30
local NEGATIVE_TTL = 2

local function lookup(host)
  local backend = routes:get(host)
  if backend ~= nil then return backend end
  local res = ngx.location.capture("/_resolve/" .. host)
  if res.status == 200 then
    -- The answer is {"host","backend","match","pattern"}; a pattern is enough
    -- here and avoids a JSON library Debian's module does not bundle.
    backend = string.match(res.body, '"backend"%s*:%s*"([^"]+)"') or ""
    routes:set(host, backend, TTL)
  elseif res.status == 404 then
    backend = ""
    routes:set(host, backend, NEGATIVE_TTL)
  else
    return nil
  end
  return backend
end

-- access_by_lua: $backend for `proxy_pass http://$backend`, and for the balancer.
function M.access()
  local backend = lookup(ngx.var.host)
  if backend == nil then return ngx.exit(503) end
  if backend == "" then return ngx.exit(404) end
  ngx.var.backend = backend
end

-- balancer_by_lua: connect to the backend access() chose; `keepalive` in the
-- same upstream pools the connections per address.
function M.balance()
  local backend = ngx.var.backend
  local host, port = string.match(backend, "^(.+):(%d+)$")
  local ok, err = balancer.set_current_peer(host, tonumber(port))
  if not ok then
    ngx.log(ngx.ERR, "set_current_peer ", backend, ": ", err)
    return ngx.exit(502)
  end
end

return M
