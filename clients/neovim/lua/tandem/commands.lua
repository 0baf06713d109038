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

--- A focused floating window showing `lines` (a string is split at newlines); `q` closes it.
--- opts: filetype ('markdown' for the model's answers; none for text laid out here), highlights
--- ({group, line (0-based), col_start, col_end}).
function M.float(lines, opts)
  opts = opts or {}
  if type(lines) == 'string' then lines = vim.split(lines, '\n', { plain = true }) end
  local width = 40
  for _, l in ipairs(lines) do width = math.max(width, vim.fn.strdisplaywidth(l)) end
  local buf = api.nvim_create_buf(false, true)
  api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  for _, h in ipairs(opts.highlights or {}) do api.nvim_buf_add_highlight(buf, -1, h[1], h[2], h[3], h[4]) end
  vim.bo[buf].modifiable = false
  if opts.filetype then vim.bo[buf].filetype = opts.filetype end
  vim.bo[buf].bufhidden = 'wipe'
  local win = api.nvim_open_win(buf, true, {
    relative = 'cursor', row = 1, col = 0, style = 'minimal', border = 'rounded',
    width = math.min(width, vim.o.columns - 4),
    height = math.max(1, math.min(#lines, math.floor(vim.o.lines * 0.6))),
  })
  vim.wo[win].wrap = opts.filetype == 'markdown'
  vim.keymap.set('n', 'q', '<cmd>close<cr>', { buffer = buf, nowait = true })
  return win
end

--- A result handler: the answer's `markdown` in a float.
local function markdown_float(command)
  return function(result)
    local md = type(result) == 'table' and result.markdown
    if type(md) ~= 'string' then return util.notify(command .. ' returned no markdown', WARN) end
    M.float(md, { filetype = 'markdown' })
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

--- Rows of cells as lines whose columns line up: the first column left-aligned, the others right.
local function columns(rows)
  local widths = {}
  for _, row in ipairs(rows) do
    for i, cell in ipairs(row) do widths[i] = math.max(widths[i] or 0, vim.fn.strdisplaywidth(cell)) end
  end
  local out = {}
  for _, row in ipairs(rows) do
    local cells = {}
    for i, cell in ipairs(row) do
      local pad = string.rep(' ', widths[i] - vim.fn.strdisplaywidth(cell))
      cells[i] = i == 1 and cell .. pad or pad .. cell
    end
    table.insert(out, table.concat(cells, '  '))
  end
  return out
end

--- tandem.stats' answer laid out for reading: counts, a table per backend (shown, accepted, partly
--- accepted, latency p50/p95), today's cloud spend, the status. Returns the lines and their
--- highlights ({group, line, col_start, col_end}).
function M.stats_view(s)
  local lines, hl = {}, {}
  local function add(text, group)
    table.insert(lines, text)
    if group then table.insert(hl, { group, #lines - 1, 0, -1 }) end
  end
  add('tandem stats', 'Title')
  add(('requests %d, shown %d (from cache %d), accepted %d, partly accepted %d'):format(num(s.requests), num(s.shown), num(s.cacheHits), num(s.accepted), num(s.partiallyAccepted)))
  if num(s.deadlineExpired) > 0 then add(('%d requests reached their deadline with nothing to show'):format(s.deadlineExpired)) end
  local names, seen = {}, {}
  for _, t in ipairs({ s.byBackend or {}, s.latency or {} }) do
    for name in pairs(t) do
      if not seen[name] then seen[name] = true table.insert(names, name) end
    end
  end
  table.sort(names)
  if #names > 0 then
    add('')
    local rows = { { 'backend', 'shown', 'accepted', 'partly', 'p50 ms', 'p95 ms' } }
    local p = function(v) return type(v) == 'number' and tostring(v) or '-' end
    for _, name in ipairs(names) do
      local b, l = (s.byBackend or {})[name] or {}, (s.latency or {})[name] or {}
      table.insert(rows, { name, tostring(num(b.shown)), tostring(num(b.accepted)), tostring(num(b.partiallyAccepted)), p(l.p50), p(l.p95) })
    end
    for i, line in ipairs(columns(rows)) do add(line, i == 1 and 'Bold' or nil) end
  end
  add('')
  if type(s.spend) == 'table' then add(('cloud spend %s: $%.4f'):format(s.spend.day or 'today', num(s.spend.usd))) end
  if type(s.status) == 'table' then
    local bad = s.status.state == 'degraded' and 'WarningMsg' or s.status.state == 'offline' and 'ErrorMsg' or nil
    add(('status: %s%s'):format(s.status.state or '?', s.status.message and s.status.message ~= '' and (' - ' .. s.status.message) or ''), bad)
  end
  return lines, hl
end

function M.stats()
  execute(api.nvim_get_current_buf(), 'tandem.stats', nil, function(result)
    if type(result) ~= 'table' then return util.notify('tandem.stats returned nothing', WARN) end
    local lines, hl = M.stats_view(result)
    M.float(lines, { highlights = hl })
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
