-- :TandemExplain, :TandemEdit, :TandemCompare, :TandemStats, :TandemStatus and :TandemSnooze:
-- forward to the server's commands and show the answer; also the client-side handler of the
-- Explain code action.
local util = require('tandem.util')
local api = vim.api

local M = {}
local WARN, ERROR = vim.log.levels.WARN, vim.log.levels.ERROR

--- The LSP range of a command's line range (whole lines).
local function range_of(opts, bufnr)
  local last = util.line(bufnr, opts.line2 - 1)
  return { start = { line = opts.line1 - 1, character = 0 }, ['end'] = { line = opts.line2 - 1, character = util.utf16_len(last) } }
end

--- workspace/executeCommand with `arg` as the one argument (none when nil); `on_result(result)`.
local function execute(bufnr, command, arg, on_result)
  local client = util.tandem_client(bufnr)
  if not client then return util.notify('no tandem server is attached to this buffer (see :checkhealth tandem)', WARN) end
  util.call(client, 'request', 'workspace/executeCommand', { command = command, arguments = arg and { arg } or nil }, function(err, result)
    if err then return util.notify(command .. ' failed: ' .. (err.message or vim.inspect(err)), ERROR) end
    on_result(result)
  end, bufnr)
end

--- A focused floating window with Markdown; `q` closes it.
function M.float(text, title)
  local lines = vim.split(text, '\n', { plain = true })
  if title then table.insert(lines, 1, '# ' .. title) end
  local width = 40
  for _, l in ipairs(lines) do width = math.max(width, vim.fn.strdisplaywidth(l)) end
  local buf = api.nvim_create_buf(false, true)
  api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].filetype = 'markdown'
  vim.bo[buf].bufhidden = 'wipe'
  local win = api.nvim_open_win(buf, true, {
    relative = 'cursor', row = 1, col = 0, style = 'minimal', border = 'rounded',
    width = math.min(width, vim.o.columns - 4),
    height = math.max(1, math.min(#lines, math.floor(vim.o.lines * 0.6))),
  })
  vim.wo[win].wrap = true
  vim.keymap.set('n', 'q', '<cmd>close<cr>', { buffer = buf, nowait = true })
  return win
end

--- A result handler: the answer's `markdown` in a float.
local function markdown_float(command)
  return function(result)
    local md = type(result) == 'table' and result.markdown
    if type(md) ~= 'string' then return util.notify(command .. ' returned no markdown', WARN) end
    M.float(md)
  end
end

--- Sends tandem.explain for `arg` ({uri, range}) and shows the Markdown in a float. `open =
--- false`: the float shows it, so the server must not also open it (window/showDocument).
function M.explain_target(bufnr, arg)
  arg = vim.tbl_extend('force', arg, { open = false })
  execute(bufnr, 'tandem.explain', arg, markdown_float('tandem.explain'))
end

function M.explain(opts)
  local bufnr = api.nvim_get_current_buf()
  M.explain_target(bufnr, { uri = vim.uri_from_bufnr(bufnr), range = range_of(opts, bufnr) })
end

--- The Explain code action's command, run in Neovim (client `commands`) instead of on the
--- server, so that vim.lsp.buf.code_action() shows the answer in a float too.
function M.explain_action(command, ctx)
  local arg = command.arguments and command.arguments[1]
  if type(arg) ~= 'table' then return util.notify('tandem.explain: the code action carries no range', WARN) end
  M.explain_target(ctx.bufnr or api.nvim_get_current_buf(), arg)
end

--- :[range]TandemEdit[!] [instruction]: the lines changed by an instruction; with ! the scope is
--- the workspace (the server may edit other files too).
function M.edit(opts)
  local bufnr = api.nvim_get_current_buf()
  local range = range_of(opts, bufnr)
  local scope = opts.bang and 'workspace' or 'file'
  local function run(instruction)
    if not instruction or instruction == '' then return end
    -- The server applies the edit itself through workspace/applyEdit, guarded by versions.
    execute(bufnr, 'tandem.edit', { uri = vim.uri_from_bufnr(bufnr), range = range, instruction = instruction, scope = scope }, function(result)
      if type(result) == 'table' and result.applied == false then
        return util.notify('edit not applied' .. (result.failureReason and (': ' .. result.failureReason) or ''), WARN)
      end
      util.notify('edit applied')
    end)
  end
  if opts.args ~= '' then run(opts.args) else vim.ui.input({ prompt = scope == 'workspace' and 'tandem edit (workspace): ' or 'tandem edit: ' }, run) end
end

--- :[range]TandemCompare [instruction]: two backends side by side, as Markdown in a float:
--- their explanations, or with an instruction their proposed edits as diffs (nothing applied).
function M.compare(opts)
  local bufnr = api.nvim_get_current_buf()
  local arg = { uri = vim.uri_from_bufnr(bufnr), range = range_of(opts, bufnr) }
  if opts.args ~= '' then arg.instruction = opts.args end
  execute(bufnr, 'tandem.compare', arg, markdown_float('tandem.compare'))
end

local function num(v) return type(v) == 'number' and v or 0 end

--- The Markdown :TandemStats shows for tandem.stats' answer.
function M.stats_markdown(s)
  local lines = {
    '# tandem stats', '',
    ('requests %d, shown %d (from cache %d), accepted %d, partly accepted %d'):format(num(s.requests), num(s.shown), num(s.cacheHits), num(s.accepted), num(s.partiallyAccepted)),
    '', '| backend | shown | accepted | partly | p50 ms | p95 ms |', '|---|---|---|---|---|---|',
  }
  local names, seen = {}, {}
  for _, t in ipairs({ s.byBackend or {}, s.latency or {} }) do
    for name in pairs(t) do
      if not seen[name] then seen[name] = true table.insert(names, name) end
    end
  end
  table.sort(names)
  for _, name in ipairs(names) do
    local b, l = (s.byBackend or {})[name] or {}, (s.latency or {})[name] or {}
    local p = function(v) return type(v) == 'number' and tostring(v) or '-' end
    table.insert(lines, ('| %s | %d | %d | %d | %s | %s |'):format(name, num(b.shown), num(b.accepted), num(b.partiallyAccepted), p(l.p50), p(l.p95)))
  end
  if type(s.spend) == 'table' then
    table.insert(lines, '')
    table.insert(lines, ('cloud spend %s: $%.4f'):format(s.spend.day or 'today', num(s.spend.usd)))
  end
  if type(s.status) == 'table' then
    table.insert(lines, ('status: %s%s'):format(s.status.state or '?', s.status.message and s.status.message ~= '' and (' - ' .. s.status.message) or ''))
  end
  return table.concat(lines, '\n')
end

function M.stats()
  execute(api.nvim_get_current_buf(), 'tandem.stats', nil, function(result)
    if type(result) ~= 'table' then return util.notify('tandem.stats returned nothing', WARN) end
    M.float(M.stats_markdown(result))
  end)
end

--- Minutes :TandemSnooze snoozes for without an argument.
M.SNOOZE_MINUTES = 30

--- :TandemSnooze [minutes]: no ghost text for that long (30 without an argument); 0 resumes. The
--- server keeps the snooze (for every buffer it serves) and says until when in tandem/status.
function M.snooze(opts)
  local minutes = M.SNOOZE_MINUTES
  if opts.args ~= '' then
    minutes = tonumber(opts.args)
    if not minutes or minutes < 0 then return util.notify(':TandemSnooze expects a number of minutes (0 resumes), not ' .. opts.args, WARN) end
  end
  execute(api.nvim_get_current_buf(), 'tandem.snooze', minutes, function(result)
    if type(result) == 'table' and type(result.snoozedUntil) == 'string' then
      util.notify(('ghost text snoozed until %s'):format(os.date('%H:%M', os.time() + math.floor(minutes * 60 + 0.5))))
    else
      util.notify('ghost text resumed')
    end
  end)
end

--- The lines :TandemStatus shows: the last `tandem/status` and the running clients.
function M.status_lines()
  local tandem = require('tandem')
  local lines = {}
  local s = tandem.status
  if s then
    table.insert(lines, ('tandem: %s%s'):format(s.state, s.message and s.message ~= '' and (' - ' .. s.message) or ''))
    for _, b in ipairs(s.backends or {}) do
      local latency = type(b.latencyMs) == 'number' and ('%d ms'):format(b.latencyMs) or '-'
      table.insert(lines, ('  %-12s %-9s %s'):format(b.name, b.healthy and 'healthy' or 'unhealthy', latency))
    end
  else
    table.insert(lines, 'tandem: no status from the server yet')
  end
  local get = vim.lsp.get_clients or vim.lsp.get_active_clients
  local running = 0
  for _, c in pairs(get()) do
    if c.name == 'tandem' then
      running = running + 1
      table.insert(lines, ('  server %d: %s (root %s)'):format(c.id, table.concat(c.config.cmd, ' '), c.config.root_dir or '-'))
    end
  end
  if running == 0 then table.insert(lines, '  no tandem server is running') end
  return lines
end

function M.status()
  vim.notify(table.concat(M.status_lines(), '\n'))
end

return M
