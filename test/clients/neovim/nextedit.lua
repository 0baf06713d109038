-- Drives the plugin's next edits in a real headless Neovim and writes what it saw to
-- $TANDEM_TEST_OUT as JSON (test/clients/neovim-nextedit.test.ts starts the fake Zeta server and
-- checks it). $TANDEM_NE_MODE: 'accept' presses <Tab> on the preview, 'dismiss' <Esc>, 'type' i,
-- 'move' G.
local api = vim.api
local driver = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':h') .. '/steps.lua')
local out_path = driver.env('TANDEM_TEST_OUT')
local file = driver.env('TANDEM_TEST_FILE')
local mode = driver.env('TANDEM_NE_MODE')
local held_path = driver.env('TANDEM_TEST_HELD')
local closed_path = driver.env('TANDEM_TEST_CLOSED')

driver.setup_with_gpu({
  settings = { context = { enabled = false }, inline = { debounceMs = 0, deadlineMs = 20000 } },
  next_edit = { enabled = true },
})

local nextedit = require('tandem.nextedit')
local results = { version = driver.version(), checks = {}, errors = {}, requests = {}, commands = {}, shows = {} }
local function check(name, value) results.checks[name] = value end

local function keys(k, remap)
  api.nvim_feedkeys(api.nvim_replace_termcodes(k, true, false, true), remap and 'm' or 'n', false)
end

local function lines() return api.nvim_buf_get_lines(0, 0, -1, false) end

--- The preview's extmarks: {row, col, end_row, end_col, hl_group, virt_text = {{text, hl}}, virt_text_pos, virt_lines}.
local function marks()
  local out = {}
  for _, m in ipairs(api.nvim_buf_get_extmarks(0, nextedit.ns, 0, -1, { details = true })) do
    local d = m[4]
    table.insert(out, { row = m[2], col = m[3], end_row = d.end_row or vim.NIL, end_col = d.end_col or vim.NIL, hl_group = d.hl_group or vim.NIL, virt_text = d.virt_text or vim.NIL, virt_text_pos = d.virt_text_pos or vim.NIL, virt_lines = d.virt_lines or vim.NIL })
  end
  return out
end

-- Records the plugin's next-edit requests (params, and the answer), its commands (with the
-- server's answer) and its didShowInlineEdit notifications, as the server received them.
local function spy(client)
  local request, notify, cancel = client.request, client.notify, client.cancel_request
  client.request = function(...)
    local args = { ... }
    local i = type(args[1]) == 'table' and 2 or 1 -- client:request (0.11+) passes self first
    local method, params = args[i], args[i + 1]
    if method == 'textDocument/copilotInlineEdit' or method == 'workspace/executeCommand' then
      local entry = { method = method, params = vim.deepcopy(params), open_before = 0 }
      if method == 'textDocument/copilotInlineEdit' then
        for _, r in ipairs(results.requests) do
          if not r.done and not r.cancelled then entry.open_before = entry.open_before + 1 end
        end
      end
      table.insert(method == 'workspace/executeCommand' and results.commands or results.requests, entry)
      local handler = args[i + 2]
      args[i + 2] = function(err, res, ...)
        entry.done, entry.err, entry.result = true, err, res
        if handler then return handler(err, res, ...) end
      end
      local ok, id = request(unpack(args))
      entry.id = id
      return ok, id
    end
    return request(unpack(args))
  end
  client.notify = function(...)
    local args = { ... }
    local i = type(args[1]) == 'table' and 2 or 1
    if args[i] == 'textDocument/didShowInlineEdit' then table.insert(results.shows, vim.deepcopy(args[i + 1])) end
    return notify(...)
  end
  client.cancel_request = function(...)
    local args = { ... }
    local id = args[type(args[1]) == 'table' and 2 or 1]
    for _, r in ipairs(results.requests) do
      if r.id == id then r.cancelled = true end
    end
    return cancel(...)
  end
end

local function answered(n)
  local r = results.requests[n]
  return r and r.done
end

local function command_done(name)
  for _, c in ipairs(results.commands) do
    if c.params.command == name and c.done then return c end
  end
end

-- Spied from the first attach on: the plugin asks for a buffer's first next edit right then.
local tandem = require('tandem')
local on_attach = tandem.on_attach
tandem.on_attach = function(client, bufnr)
  if not results.checks.spied then
    spy(client)
    check('spied', true)
  end
  return on_attach(client, bufnr)
end

local stats
local steps = {
  { 'attach and the first request', function()
      vim.cmd('edit ' .. vim.fn.fnameescape(file))
    end, function() return answered(1) end },
  { 'an edit brings a request; a keystroke cancels it', function()
      check('first_request', results.requests[1])
      -- The fake holds its answer while the buffer has the line "x".
      api.nvim_win_set_cursor(0, { 7, 0 })
      keys('ox<Esc>')
    end, function() return #results.requests >= 2 and vim.loop.fs_stat(held_path) ~= nil end },
  { 'into insert mode', function()
      keys('i')
    end, function()
      local r = results.requests[2]
      return r.cancelled and r.done and vim.loop.fs_stat(closed_path) ~= nil
    end },
  { 'undo', function()
      check('held_request', results.requests[2])
      keys('<Esc>u')
    end, function() return #lines() == 7 end },
  { 'type the parameter, leave insert mode', function()
      check('requests_before_edit', #results.requests)
      -- On the "r" that ends `h: number`: append there.
      api.nvim_win_set_cursor(0, { 1, #'export function area(w: number, h: numbe' })
      keys('a, d: number<Esc>')
    end, function() return #marks() > 0 end },
  { 'the preview', function()
      check('marks', marks())
      check('lines_before', lines())
      check('cursor_before', api.nvim_win_get_cursor(0))
      local s = nextedit.current()
      check('shown_edits', s and s.edits)
      -- 'type' enters insert mode; 'move' goes to the last line, past the edit.
      local press = { accept = '<Tab>', dismiss = '<Esc>', type = 'i', move = 'G' }
      keys(assert(press[mode], mode), true)
    end, function()
      if mode == 'accept' then return command_done('tandem.nextEditAccepted') ~= nil end
      return command_done('tandem.nextEditDismissed') ~= nil
    end },
  { 'stats', function()
      check('marks_after', marks())
      check('lines_after', lines())
      check('cursor_after', api.nvim_win_get_cursor(0))
      vim.lsp.buf_request(0, 'workspace/executeCommand', { command = 'tandem.stats', arguments = {} }, function(err, res)
        stats = err and { err = err } or res
      end)
    end, function() return stats ~= nil end },
}

driver.run(steps, results, function()
  check('stats', stats and (stats.nextEdit or stats))
  driver.write_and_quit(out_path, results)
end)
