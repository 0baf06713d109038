-- Ghost text: ask textDocument/inlineCompletion when insert mode goes idle, show the answer with
-- extmarks, cycle through the alternatives of an invoked request, accept all / a word / a line,
-- and report acceptance through the item's command.
local util = require('tandem.util')
local api = vim.api
local uv = vim.uv or vim.loop

local M = {}

local ns = api.nvim_create_namespace('tandem.ghost')
local inline_virt_text = vim.fn.has('nvim-0.10') == 1
local cfg
local timer
local pending -- the request in flight: {client, id}
-- What is shown: {bufnr, row, col (bytes, 0-based), end_col, text, tick, item, client_id}, and
-- for the answer of an invoked request `list` (every candidate: {text, item, end_col}) and `index`.
local ghost

M.ns = ns

local function cursor()
  local pos = api.nvim_win_get_cursor(0)
  return pos[1] - 1, pos[2]
end

local function in_insert_mode()
  return api.nvim_get_mode().mode:sub(1, 1) == 'i'
end

--- Cancels the request in flight: the server then closes its backend stream.
local function cancel()
  if pending then
    pcall(util.call, pending.client, 'cancel_request', pending.id)
    pending = nil
  end
end

function M.clear()
  if ghost and api.nvim_buf_is_valid(ghost.bufnr) then api.nvim_buf_clear_namespace(ghost.bufnr, ns, 0, -1) end
  ghost = nil
end

--- The ghost text shown now (nil when none): {text, row, col, item, ...}.
function M.current()
  return ghost
end

local function render()
  local g = ghost
  api.nvim_buf_clear_namespace(g.bufnr, ns, 0, -1)
  local shown = g.text:gsub('\t', string.rep(' ', vim.bo[g.bufnr].tabstop))
  local lines = vim.split(shown, '\n', { plain = true })
  local at_eol = g.col >= #util.line(g.bufnr, g.row)
  local opts = { virt_text = { { lines[1], cfg.hl_group } }, hl_mode = 'combine' }
  -- Before 0.10 virtual text cannot push the rest of the line aside: overlay past its end,
  -- or show the suggestion after the line when the cursor sits before code.
  opts.virt_text_pos = inline_virt_text and 'inline' or (at_eol and 'overlay' or 'eol')
  if #lines > 1 then
    opts.virt_lines = {}
    for i = 2, #lines do opts.virt_lines[i - 1] = { { lines[i], cfg.hl_group } } end
  end
  api.nvim_buf_set_extmark(g.bufnr, ns, g.row, g.col, opts)
end

--- An item as ghost text at the cursor, {text, item, end_col}; nil when it no longer fits the text before the cursor.
local function candidate(bufnr, item, row, col)
  if type(item) ~= 'table' then return end
  local text = type(item.insertText) == 'table' and item.insertText.value or item.insertText
  if type(text) ~= 'string' then return end
  local end_col = col
  if item.range then
    local r = item.range
    if r.start.line ~= row or r['end'].line ~= row then return end
    local line = util.line(bufnr, row)
    local start_col = util.byte_col(line, r.start.character)
    end_col = math.max(col, util.byte_col(line, r['end'].character))
    -- The item may start before the cursor (text typed since): skip what is already there.
    local typed = line:sub(start_col + 1, col)
    if start_col > col or text:sub(1, #typed) ~= typed then return end
    text = text:sub(#typed + 1)
  end
  if text == '' then return end
  return { text = text, item = item, end_col = end_col }
end

--- Shows candidate `index` of `list`, the others kept for cycling when the request was invoked.
local function show(bufnr, client, list, index, row, col, invoked)
  local c = list[index]
  ghost = { bufnr = bufnr, row = row, col = col, end_col = c.end_col, text = c.text, item = c.item, client_id = client.id, tick = api.nvim_buf_get_changedtick(bufnr) }
  if invoked then ghost.list, ghost.index = list, index end
  render()
end

--- Asks for ghost text at the cursor. `invoked`: the user asked (triggerKind 1: no debounce on the
--- server, and every alternative); then `step` moves from the candidate `current` (the text shown
--- before) to the next (1) or previous (-1) one in the new list.
function M.request(invoked, step, current)
  cancel()
  local bufnr = api.nvim_get_current_buf()
  local client = util.tandem_client(bufnr)
  if not client or not in_insert_mode() then return end
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = invoked and 1 or 2 } -- Invoked or Automatic
  local row, col = cursor()
  local tick = api.nvim_buf_get_changedtick(bufnr)
  local ok, id
  ok, id = util.call(client, 'request', 'textDocument/inlineCompletion', params, function(err, result)
    if pending and pending.id == id then pending = nil end
    if err or not in_insert_mode() or api.nvim_get_current_buf() ~= bufnr then return end
    local r, c = cursor()
    -- A stale answer (the text or the cursor moved on meanwhile) is dropped, never shown.
    if r ~= row or c ~= col or api.nvim_buf_get_changedtick(bufnr) ~= tick then return end
    M.clear()
    local list = {}
    local items = type(result) == 'table' and (result.items or result) or {}
    for _, item in ipairs(invoked and items or { items[1] }) do
      local cand = candidate(bufnr, item, row, col)
      if cand then table.insert(list, cand) end
    end
    if #list == 0 then return end
    local index = 1
    for i, cand in ipairs(list) do
      if step and cand.text == current then index = (i - 1 + step) % #list + 1 end
    end
    show(bufnr, client, list, index, row, col, invoked)
  end, bufnr)
  if ok then pending = { client = client, id = id } end
end

--- Keeps the ghost when the cursor is where we left it, or when the user typed its next characters.
local function still_valid(bufnr)
  local g = ghost
  if g.bufnr ~= bufnr then return false end
  local row, col = cursor()
  local tick = api.nvim_buf_get_changedtick(bufnr)
  if row == g.row and col == g.col and tick == g.tick then return true end
  if row ~= g.row or col <= g.col then return false end
  local typed = util.line(bufnr, row):sub(g.col + 1, col)
  if #typed >= #g.text or g.text:sub(1, #typed) ~= typed then return false end
  g.text, g.col, g.end_col, g.tick = g.text:sub(#typed + 1), col, g.end_col + #typed, tick
  g.list, g.index = nil, nil -- the other candidates were for the text before: cycling asks anew
  render()
  return true
end

local function on_change()
  local bufnr = api.nvim_get_current_buf()
  if ghost then
    if still_valid(bufnr) then return end
    M.clear()
  end
  cancel()
  timer:stop()
  timer:start(cfg.debounce_ms, 0, vim.schedule_wrap(function() M.request(false) end))
end

--- Reports an acceptance through the item's own command (`tandem.accepted [{id}]`).
local function report(g, partial)
  local cmd = g.item.command
  local client = vim.lsp.get_client_by_id(g.client_id)
  if type(cmd) ~= 'table' or not client then return end
  local args = cmd.arguments
  if partial then
    args = vim.deepcopy(args or {})
    if type(args[1]) ~= 'table' then return end
    args[1].partial = true
  end
  util.call(client, 'request', 'workspace/executeCommand', { command = cmd.command, arguments = args }, function() end, g.bufnr)
end

--- Accepts 'all', 'word' or 'line' of the ghost text; false when none is shown.
function M.accept(kind)
  local g = ghost
  if not g then return false end
  local part = g.text
  if kind == 'word' then
    part = g.text:match('^%s*[%w_]+') or g.text:match('^%s*[^%w_%s]+') or g.text
  elseif kind == 'line' then
    part = g.text:match('^[^\n]+') or g.text:match('^\n[^\n]*')
  end
  local full = part == g.text
  local lines = vim.split(part, '\n', { plain = true })
  api.nvim_buf_clear_namespace(g.bufnr, ns, 0, -1)
  -- A full accept also replaces the item's range past the cursor; partial ones only insert.
  api.nvim_buf_set_text(g.bufnr, g.row, g.col, g.row, full and g.end_col or g.col, lines)
  local row = g.row + #lines - 1
  local col = (#lines == 1 and g.col or 0) + #lines[#lines]
  api.nvim_win_set_cursor(0, { row + 1, col })
  report(g, not full)
  if full then
    ghost = nil
  else
    g.end_col, g.row, g.col = col + (g.end_col - g.col), row, col
    g.text, g.tick = g.text:sub(#part + 1), api.nvim_buf_get_changedtick(g.bufnr)
    g.list, g.index = nil, nil
    render()
  end
  return true
end

--- Shows the next (`step` 1) or previous (-1) alternative. Ghost text from typing has one: the
--- first press asks again as an invoked request (every alternative, no debounce) and moves on
--- from the one shown. False outside insert mode or without tandem (the key falls through).
function M.cycle(step)
  local g = ghost
  if g and g.list then
    g.index = (g.index - 1 + step) % #g.list + 1
    local c = g.list[g.index]
    g.text, g.item, g.end_col = c.text, c.item, c.end_col
    render()
    return true
  end
  if not in_insert_mode() or not util.tandem_client(api.nvim_get_current_buf()) then return false end
  timer:stop()
  M.request(true, step, g and g.text)
  return true
end

function M.dismiss()
  if not ghost then return false end
  cancel()
  M.clear()
  return true
end

local function map(name, action) util.map_falling_through('i', cfg.keymaps[name], 'tandem: ' .. name, action) end

function M.setup(config, group)
  cfg = config
  timer = timer or uv.new_timer()
  api.nvim_create_autocmd({ 'InsertEnter', 'CursorMovedI', 'TextChangedI' }, { group = group, callback = on_change })
  api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, {
    group = group,
    callback = function()
      timer:stop()
      cancel()
      M.clear()
    end,
  })
  map('accept', function() return M.accept('all') end)
  map('accept_word', function() return M.accept('word') end)
  map('accept_line', function() return M.accept('line') end)
  map('dismiss', M.dismiss)
  map('next', function() return M.cycle(1) end)
  map('previous', function() return M.cycle(-1) end)
end

--- Neovim 0.12+: vim.lsp.inline_completion renders, accepts and runs the item's command itself.
function M.setup_native(config)
  cfg = config
  map('accept', function() return vim.lsp.inline_completion.get() end)
end

return M
