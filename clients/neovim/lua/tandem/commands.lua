-- :TandemExplain, :TandemEdit and :TandemStatus: forward to the server's commands, show the answer.
local util = require('tandem.util')
local api = vim.api

local M = {}
local WARN, ERROR = vim.log.levels.WARN, vim.log.levels.ERROR

--- The LSP range of a command's line range (whole lines).
local function range_of(opts, bufnr)
  local last = util.line(bufnr, opts.line2 - 1)
  return { start = { line = opts.line1 - 1, character = 0 }, ['end'] = { line = opts.line2 - 1, character = util.utf16_len(last) } }
end

local function execute(bufnr, command, arg, on_result)
  local client = util.tandem_client(bufnr)
  if not client then return util.notify('no tandem server is attached to this buffer (see :checkhealth tandem)', WARN) end
  util.call(client, 'request', 'workspace/executeCommand', { command = command, arguments = { arg } }, function(err, result)
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

function M.explain(opts)
  local bufnr = api.nvim_get_current_buf()
  local arg = { uri = vim.uri_from_bufnr(bufnr), range = range_of(opts, bufnr) }
  execute(bufnr, 'tandem.explain', arg, function(result)
    local md = type(result) == 'table' and result.markdown
    if type(md) ~= 'string' then return util.notify('tandem.explain returned no markdown', WARN) end
    M.float(md)
  end)
end

function M.edit(opts)
  local bufnr = api.nvim_get_current_buf()
  local range = range_of(opts, bufnr)
  local function run(instruction)
    if not instruction or instruction == '' then return end
    -- The server applies the edit itself through workspace/applyEdit, guarded by versions.
    execute(bufnr, 'tandem.edit', { uri = vim.uri_from_bufnr(bufnr), range = range, instruction = instruction }, function()
      util.notify('edit done')
    end)
  end
  if opts.args ~= '' then run(opts.args) else vim.ui.input({ prompt = 'tandem edit: ' }, run) end
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
