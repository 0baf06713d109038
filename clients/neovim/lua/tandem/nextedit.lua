-- Next edits: when an edit settles in normal mode, ask textDocument/copilotInlineEdit for the edit
-- the user will make next (anywhere near the cursor), show it as a diff preview with extmarks,
-- apply it with the accept key, and tell the server what was shown, accepted and dismissed.
-- Normal mode only: in insert mode the ghost text (inline.lua) has the floor and the same <Tab>.
local util = require('tandem.util')
local api = vim.api
local uv = vim.uv or vim.loop

local M = {}

local ns = api.nvim_create_namespace('tandem.nextedit')
local inline_virt_text = vim.fn.has('nvim-0.10') == 1
local cfg -- the `next_edit` section of the configuration
local timer
local pending = {} -- bufnr -> the request in flight for that buffer: {client, id}
local asked_tick = {} -- bufnr -> the changedtick last asked about: an unchanged buffer is not asked again
local first_asked = {} -- 'client:bufnr' -> true once the buffer's first request went
-- What is shown: {bufnr, client_id, offset_encoding, tick, version, edits, top, bottom}; top and
-- bottom are the rows from where it was asked to the farthest edit: the cursor may move there.
local shown

M.ns = ns

local function normal_mode()
  return api.nvim_get_mode().mode == 'n'
end

--- The document version Neovim last sent for the buffer (its changedtick).
local function version(bufnr)
  local v = vim.lsp.util.buf_versions and vim.lsp.util.buf_versions[bufnr]
  return v or api.nvim_buf_get_changedtick(bufnr)
end

--- Cancels the buffer's request in flight: the server then closes its backend request.
local function cancel(bufnr)
  local p = pending[bufnr]
  if p then
    pcall(util.call, p.client, 'cancel_request', p.id)
    pending[bufnr] = nil
  end
end

--- The preview shown now (nil when none): {bufnr, edits = {{text, range, textDocument, command}}, ...}.
function M.current()
  return shown
end

function M.clear()
  if shown and api.nvim_buf_is_valid(shown.bufnr) then api.nvim_buf_clear_namespace(shown.bufnr, ns, 0, -1) end
  shown = nil
end

--- Runs `command` for every edit of `s` with the arguments the edit's own command carries ({id}).
local function report(s, command)
  local client = vim.lsp.get_client_by_id(s.client_id)
  if not client then return end
  for _, e in ipairs(s.edits) do
    local args = type(e.command) == 'table' and e.command.arguments
    if type(args) == 'table' then
      util.call(client, 'request', 'workspace/executeCommand', { command = command or e.command.command, arguments = args }, function() end, s.bufnr)
    end
  end
end

--- Hides the preview and tells the server it was refused (`tandem.nextEditDismissed`); false when none is shown.
function M.dismiss()
  local s = shown
  if not s then return false end
  M.clear()
  report(s, 'tandem.nextEditDismissed')
  return true
end

local function visible(text, bufnr)
  return (text:gsub('\t', string.rep(' ', vim.bo[bufnr].tabstop)))
end

--- Byte columns of an LSP range in the buffer: start_row, start_col, end_row, end_col.
local function byte_range(bufnr, range)
  local last = api.nvim_buf_line_count(bufnr) - 1
  local sr, er = math.min(range.start.line, last), math.min(range['end'].line, last)
  local sc = util.byte_col(util.line(bufnr, sr), range.start.character)
  local ec = util.byte_col(util.line(bufnr, er), range['end'].character)
  return sr, sc, er, ec
end

--- Draws each edit: the text it removes highlighted (`hl_delete`), the text it puts there
--- (`hl_add`) inside the line on 0.10+, else at the end of the line as the line will read; an
--- edit over several lines shows the lines it makes as virtual lines.
local function render()
  local s = shown
  local b = s.bufnr
  api.nvim_buf_clear_namespace(b, ns, 0, -1)
  for _, e in ipairs(s.edits) do
    local sr, sc, er, ec = byte_range(b, e.range)
    if sr ~= er or sc ~= ec then
      api.nvim_buf_set_extmark(b, ns, sr, sc, { end_row = er, end_col = ec, hl_group = cfg.hl_delete, priority = 200 })
    end
    local first, last = util.line(b, sr), util.line(b, er)
    local new = vim.split(e.text, '\n', { plain = true })
    if sr == er and #new == 1 then
      if e.text ~= '' then
        if inline_virt_text then
          api.nvim_buf_set_extmark(b, ns, er, ec, { virt_text = { { visible(e.text, b), cfg.hl_add } }, virt_text_pos = 'inline' })
        else
          -- 0.7 to 0.9 cannot draw inside the line: the line as the edit leaves it, after the line.
          local before = visible(first:sub(1, sc), b):gsub('^%s+', '')
          api.nvim_buf_set_extmark(b, ns, sr, 0, {
            virt_text = { { '  → ', 'Comment' }, { before, 'Comment' }, { visible(e.text, b), cfg.hl_add }, { visible(first:sub(ec + 1), b), 'Comment' } },
            virt_text_pos = 'eol',
          })
        end
      end
    elseif e.text ~= '' then
      local lines
      local above = ec == 0 and sc == 0 and new[#new] == ''
      if above then
        -- Whole lines put in before line `er`: shown above it, as they will stand.
        lines = vim.list_slice(new, 1, #new - 1)
      else
        lines = vim.split(first:sub(1, sc) .. e.text .. last:sub(ec + 1), '\n', { plain = true })
      end
      local virt_lines = {}
      for _, l in ipairs(lines) do table.insert(virt_lines, { { visible(l, b), cfg.hl_add } }) end
      local past_end = e.range['end'].line > api.nvim_buf_line_count(b) - 1
      api.nvim_buf_set_extmark(b, ns, er, 0, { virt_lines = virt_lines, virt_lines_above = above and not past_end })
    end
  end
end

--- The edits of an answer that apply to this buffer at `v`; nil when any does not.
local function usable(bufnr, edits, v)
  local uri = vim.uri_from_bufnr(bufnr)
  local out = {}
  for _, e in ipairs(edits) do
    if type(e) ~= 'table' or type(e.text) ~= 'string' or type(e.range) ~= 'table' or type(e.textDocument) ~= 'table' then return end
    if e.textDocument.version ~= v or e.textDocument.uri ~= uri then return end
    table.insert(out, e)
  end
  return #out > 0 and out or nil
end

local function show(bufnr, client, edits, row, tick, v)
  M.clear()
  local top, bottom = row, row
  for _, e in ipairs(edits) do
    top, bottom = math.min(top, e.range.start.line), math.max(bottom, e.range['end'].line)
  end
  shown = { bufnr = bufnr, client_id = client.id, offset_encoding = client.offset_encoding, tick = tick, version = v, edits = edits, top = top, bottom = bottom }
  render()
  for _, e in ipairs(edits) do util.call(client, 'notify', 'textDocument/didShowInlineEdit', { item = e }) end
end

--- Asks for the next edit of the current buffer at the cursor; one request per buffer, the one
--- before it cancelled. An answer for text or a mode that moved on is dropped, never shown.
function M.request()
  local bufnr = api.nvim_get_current_buf()
  cancel(bufnr)
  if not cfg or not cfg.enabled or not normal_mode() then return end
  local client = util.tandem_client(bufnr)
  if not client then return end
  local tick = api.nvim_buf_get_changedtick(bufnr)
  asked_tick[bufnr] = tick
  first_asked[client.id .. ':' .. bufnr] = true
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  -- client.request sends the pending didChange first, so this version is the server's.
  local v = version(bufnr)
  params.textDocument.version = v
  local row = params.position.line
  local ok, id
  ok, id = util.call(client, 'request', 'textDocument/copilotInlineEdit', params, function(err, result)
    if pending[bufnr] and pending[bufnr].id == id then pending[bufnr] = nil end
    if err or type(result) ~= 'table' or type(result.edits) ~= 'table' then return end
    if not api.nvim_buf_is_valid(bufnr) or api.nvim_get_current_buf() ~= bufnr or not normal_mode() then return end
    if api.nvim_buf_get_changedtick(bufnr) ~= tick then return end
    local edits = usable(bufnr, result.edits, v)
    if edits then show(bufnr, client, edits, row, tick, v) end
  end, bufnr)
  if ok then pending[bufnr] = { client = client, id = id } end
end

--- Applies the edits shown with vim.lsp.util.apply_text_edits and runs their command
--- (`tandem.nextEditAccepted [{id}]`); the cursor goes to the end of the first one. Refused when
--- the buffer is no longer at the version they were made for. False when none is shown here.
function M.accept()
  local s = shown
  if not s or s.bufnr ~= api.nvim_get_current_buf() then return false end
  if api.nvim_buf_get_changedtick(s.bufnr) ~= s.tick or version(s.bufnr) ~= s.version then
    util.notify('the next edit was made for an older version of the buffer: not applied', vim.log.levels.WARN)
    M.dismiss()
    return true
  end
  M.clear()
  local text_edits = {}
  for _, e in ipairs(s.edits) do table.insert(text_edits, { range = e.range, newText = e.text }) end
  local first = s.edits[1]
  for _, e in ipairs(s.edits) do
    local a, f = e.range.start, first.range.start
    if a.line < f.line or (a.line == f.line and a.character < f.character) then first = e end
  end
  local sr, sc = byte_range(s.bufnr, first.range)
  vim.lsp.util.apply_text_edits(text_edits, s.bufnr, s.offset_encoding or 'utf-16')
  local new = vim.split(first.text, '\n', { plain = true })
  local row = sr + #new - 1
  local col = (#new == 1 and sc or 0) + #new[#new]
  -- Normal mode: on the last character put in (or where the text was removed).
  pcall(api.nvim_win_set_cursor, 0, { row + 1, math.max(col - 1, #new == 1 and sc or 0) })
  report(s)
  return true
end

local function schedule()
  local bufnr = api.nvim_get_current_buf()
  timer:stop()
  if asked_tick[bufnr] == api.nvim_buf_get_changedtick(bufnr) then return end
  timer:start(cfg.debounce_ms, 0, vim.schedule_wrap(function()
    if api.nvim_get_current_buf() == bufnr then M.request() end
  end))
end

--- Typing, entering insert mode or leaving the buffer: the preview and the request are for text
--- that is gone (or a place left).
local function drop(ev)
  timer:stop()
  cancel(ev.buf)
  if shown then M.dismiss() end
end

--- The server keeps a buffer's edit history from its first next-edit request on, so a buffer is
--- asked once as soon as it is entered with the server attached, as stock next-edit clients do.
function M.attached(client, bufnr)
  if not cfg or not cfg.enabled or first_asked[client.id .. ':' .. bufnr] then return end
  if bufnr == api.nvim_get_current_buf() then M.request() end
end

local function map(name, action) util.map_falling_through('n', cfg.keymaps[name], 'tandem: next edit ' .. name, action) end

function M.setup(config, group)
  cfg = config
  if not cfg.enabled then return end
  timer = timer or uv.new_timer()
  api.nvim_create_autocmd('InsertLeave', { group = group, callback = schedule })
  api.nvim_create_autocmd('TextChanged', {
    group = group,
    callback = function(ev)
      cancel(ev.buf)
      if shown and api.nvim_buf_get_changedtick(shown.bufnr) ~= shown.tick then M.dismiss() end
      schedule()
    end,
  })
  api.nvim_create_autocmd({ 'InsertEnter', 'TextChangedI', 'BufLeave' }, { group = group, callback = drop })
  -- Moving away: off the lines between where it was asked and the farthest edit.
  api.nvim_create_autocmd('CursorMoved', {
    group = group,
    callback = function(ev)
      local s = shown
      if not s or s.bufnr ~= ev.buf then return end
      local row = api.nvim_win_get_cursor(0)[1] - 1
      if row < s.top or row > s.bottom then M.dismiss() end
    end,
  })
  api.nvim_create_autocmd('BufEnter', {
    group = group,
    callback = function(ev)
      local client = util.tandem_client(ev.buf)
      if client then M.attached(client, ev.buf) end
    end,
  })
  map('accept', M.accept)
  map('dismiss', M.dismiss)
end

return M
