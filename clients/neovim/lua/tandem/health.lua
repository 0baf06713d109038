-- :checkhealth tandem: the Neovim version, the server command, the running server and its status.
local M = {}

-- vim.health.start (0.10+), vim.health.report_start (0.8, 0.9), health#report_start (0.7).
local function reporter(name)
  local h = vim.health or {}
  return h[name] or h['report_' .. name] or function(...) vim.fn['health#report_' .. name](...) end
end
local start, ok, warn, err, info = reporter('start'), reporter('ok'), reporter('warn'), reporter('error'), reporter('info')

function M.check()
  local tandem = require('tandem')
  local cfg = tandem.config

  start('tandem: Neovim')
  if vim.fn.has('nvim-0.7') == 0 then
    err('Neovim 0.7 or newer is needed')
  elseif tandem.use_native() then
    ok('Neovim 0.12+: ghost text through vim.lsp.inline_completion (accept word/line are not available there)')
  elseif vim.fn.has('nvim-0.10') == 1 then
    ok('ghost text inside the line (extmarks with virt_text_pos = inline)')
  else
    ok('ghost text as overlay at the end of the line, or after the line when the cursor is before code (Neovim < 0.10)')
  end

  start('tandem: server command')
  local cmd = cfg.cmd or {}
  if vim.fn.executable(cmd[1] or '') == 0 then
    err(('%s is not executable'):format(cmd[1] or '(empty cmd)'), {
      'Install tandem (npm ci in a checkout puts tandem-lsp in node_modules/.bin), or set',
      "cmd = { 'node', '--max-semi-space-size=4', '/path/to/tandem/server/bin/tandem-lsp.js', '--stdio' } in setup()",
    })
  else
    local argv = {}
    for _, a in ipairs(cmd) do
      if a ~= '--stdio' then table.insert(argv, a) end
    end
    table.insert(argv, '--version')
    local out = vim.fn.system(argv)
    if vim.v.shell_error == 0 then
      ok(('%s answers --version: %s'):format(table.concat(cmd, ' '), vim.trim(out)))
    else
      err(('%s --version failed: %s'):format(table.concat(argv, ' '), vim.trim(out)), { 'Node 20.18 or newer is needed: node --version' })
    end
  end

  start('tandem: settings')
  local function keys(t)
    local names = vim.tbl_keys(t or {})
    table.sort(names)
    return #names > 0 and table.concat(names, ', ') or 'none'
  end
  info(('from setup() in your config: %s (initializationOptions: the server trusts them as yours)'):format(keys(cfg.settings)))
  if tandem.repository_source then
    info(('from %s: %s (answered to workspace/configuration: repository-level, so backends, routes, privacy, audit and budget may only tighten)'):format(tandem.repository_source, keys(tandem.repository_settings)))
  end

  start('tandem: server')
  local lines = require('tandem.commands').status_lines()
  local s = tandem.status
  if not s then
    info(lines[1] .. ' (servers before tandem/status support never send one)')
  elseif s.state == 'ok' then
    ok(lines[1])
  elseif s.state == 'degraded' then
    warn(lines[1])
  else
    err(lines[1])
  end
  for i = 2, #lines do info(vim.trim(lines[i])) end

  start('tandem: keys (insert mode)')
  for name, key in pairs(cfg.keymaps) do
    if key and (name == 'accept' or not tandem.use_native()) then
      local m = vim.fn.maparg(key, 'i', false, true)
      if (m.desc or ''):find('^tandem:') then ok(('%s: %s'):format(name, key)) else warn(('%s: %s is mapped by something else now'):format(name, key)) end
    end
  end

  start('tandem: next edits')
  local ne = cfg.next_edit or {}
  if not ne.enabled then
    info('off: next_edit = { enabled = true } in setup() asks for the next edit when an edit settles in normal mode')
  else
    ok(('on: asked %d ms after an edit settles in normal mode'):format(ne.debounce_ms or 0))
    for name, key in pairs(ne.keymaps or {}) do
      if key then
        local m = vim.fn.maparg(key, 'n', false, true)
        if (m.desc or ''):find('^tandem:') then ok(('%s: %s (normal mode)'):format(name, key)) else warn(('%s: %s (normal mode) is mapped by something else now'):format(name, key)) end
      end
    end
  end
end

return M
