-- Drives clients/neovim inside a real headless Neovim, as a user would type, and writes what it
-- saw to $TANDEM_TEST_OUT as JSON. test/clients/neovim.test.ts starts the fake vLLM and checks it.
-- Keys go through nvim_feedkeys from timers, so Neovim's own insert-mode loop, autocommands and
-- mappings run exactly as with a person typing.
local api = vim.api
local out_path = assert(os.getenv('TANDEM_TEST_OUT'), 'TANDEM_TEST_OUT')
local file = assert(os.getenv('TANDEM_TEST_FILE'), 'TANDEM_TEST_FILE')

vim.opt.rtp:prepend(assert(os.getenv('TANDEM_NVIM_PLUGIN'), 'TANDEM_NVIM_PLUGIN'))
vim.o.swapfile = false
vim.g.python_recommended_style = 0 -- keep Tab a literal tab in the Python test file
-- A user's own mapping of a key tandem also maps: it must still work when no ghost text is shown.
vim.keymap.set('i', '<M-Right>', 'X')
-- And one mapped to a Lua function (0.7's maparg() gives its callback as a number).
vim.keymap.set('i', '<M-Down>', function() return 'Y' end, { expr = true })

require('tandem').setup({
  cmd = { assert(os.getenv('TANDEM_NODE')), assert(os.getenv('TANDEM_SERVER')), '--stdio' },
  -- Two backends on the one fake, so :TandemCompare has two to compare; ghost text uses `fim` only.
  settings = {
    -- `dead` listens nowhere: the server's first probe finds it down and reports `degraded`.
    backends = {
      fim = { kind = 'vllm', url = assert(os.getenv('TANDEM_FAKE_URL')) },
      second = { kind = 'vllm', url = assert(os.getenv('TANDEM_FAKE_URL')) },
      dead = { kind = 'vllm', url = assert(os.getenv('TANDEM_DEAD_URL')) },
    },
    routes = { inline = { 'fim' }, action = { 'fim', 'second' }, multiFile = { 'fim', 'second' } },
    -- A deadline only a stuck server reaches: the test is about what is shown, not how fast.
    inline = { debounceMs = 0, deadlineMs = 20000 },
  },
  debounce_ms = 10,
})

local results = { version = tostring(vim.version().major) .. '.' .. vim.version().minor .. '.' .. vim.version().patch, commands = {}, checks = {}, errors = {} }
local inline = require('tandem.inline')

local driver = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':h') .. '/steps.lua')
local function finish() driver.write_and_quit(out_path, results) end

local function keys(k, remap)
  api.nvim_feedkeys(api.nvim_replace_termcodes(k, true, false, true), remap and 'm' or 'n', false)
end

local function ghost_marks()
  local marks = api.nvim_buf_get_extmarks(0, inline.ns, 0, -1, { details = true })
  local out = {}
  for _, m in ipairs(marks) do
    local d = m[4]
    local virt_lines = {}
    for _, l in ipairs(d.virt_lines or {}) do table.insert(virt_lines, l[1][1]) end
    table.insert(out, { row = m[2], col = m[3], text = d.virt_text and d.virt_text[1][1], pos = d.virt_text_pos, virt_lines = virt_lines })
  end
  return out
end

local function line(n) return api.nvim_buf_get_lines(0, n - 1, n, false)[1] end
local function find_line(text)
  for i, l in ipairs(api.nvim_buf_get_lines(0, 0, -1, false)) do
    if l == text then return i end
  end
end

-- Records every workspace/executeCommand the plugin sends, with the server's answer.
local function spy_commands(client)
  local orig = client.request
  client.request = function(...)
    local args = { ... }
    local i = type(args[1]) == 'table' and 2 or 1 -- client:request (0.11+) passes self first
    if args[i] == 'workspace/executeCommand' then
      local entry = { command = args[i + 1].command, arguments = args[i + 1].arguments }
      table.insert(results.commands, entry)
      local handler = args[i + 2]
      args[i + 2] = function(err, res, ...)
        entry.done, entry.err, entry.result = true, err, res
        if handler then return handler(err, res, ...) end
      end
    end
    return orig(unpack(args))
  end
end

local function check(name, value) results.checks[name] = value end

-- Every vim.notify message (Neovim shows LSP errors of the code-action menu this way).
local notified, notified_levels = {}, {}
local orig_notify = vim.notify
vim.notify = function(msg, level, ...)
  table.insert(notified, msg)
  table.insert(notified_levels, { msg = msg, level = level or vim.log.levels.INFO })
  return orig_notify(msg, level, ...)
end

-- The lines of each floating window (tandem's Markdown floats); closes them.
local function take_floats()
  local out = {}
  for _, w in ipairs(api.nvim_list_wins()) do
    if api.nvim_win_get_config(w).relative ~= '' then
      table.insert(out, api.nvim_buf_get_lines(api.nvim_win_get_buf(w), 0, -1, false))
      api.nvim_win_close(w, true)
    end
  end
  return out
end

local function take_floats_peek()
  local n = {}
  for _, w in ipairs(api.nvim_list_wins()) do
    if api.nvim_win_get_config(w).relative ~= '' then table.insert(n, w) end
  end
  return n
end

local function last_command(name)
  for i = #results.commands, 1, -1 do
    if results.commands[i].command == name then return results.commands[i] end
  end
end

-- Answers vim.lsp.buf.code_action()'s menu (vim.ui.select) with the item whose title matches.
local function pick_code_action(pattern, record_as)
  vim.ui.select = function(items, opts, on_choice)
    local listed = {}
    for _, item in ipairs(items) do
      local action = item[2] or item.action or item -- {client_id, action} up to 0.9, {action, ctx} later
      table.insert(listed, { title = action.title, kind = action.kind or vim.NIL, command = type(action.command) == 'table' and action.command.command or vim.NIL })
    end
    if record_as then check(record_as, listed) end
    for i, item in ipairs(items) do
      if (item[2] or item.action or item).title:match(pattern) then return on_choice(item, i) end
    end
    on_choice(nil)
  end
end

-- Each step acts, then waits (polling) until its condition holds.
local steps = {
  { 'attach', function()
      vim.cmd('edit ' .. vim.fn.fnameescape(file))
      vim.bo.expandtab, vim.bo.softtabstop = false, 0
    end, function()
      local c = require('tandem').client()
      if c and c.server_capabilities and c.server_capabilities.inlineCompletionProvider then
        spy_commands(c)
        check('completionProvider', c.server_capabilities.completionProvider ~= nil)
        return true
      end
    end },
  { 'type to get ghost text', function()
      api.nvim_win_set_cursor(0, { 2, 4 }) -- on the "r" of "    r"
      keys('ae')
    end, function() return #ghost_marks() > 0 end },
  { 'accept with Tab', function()
      check('ghost1', ghost_marks())
      keys('<Tab>', true)
    end, function() return line(2) == '    return a + b' and #results.commands >= 1 and results.commands[1].done end },
  { 'Tab with nothing shown', function()
      check('cursor_after_accept', api.nvim_win_get_cursor(0))
      check('ghost_after_accept', ghost_marks())
      keys('<Esc>o')
    end, function() return api.nvim_win_get_cursor(0)[1] == 3 and api.nvim_get_mode().mode == 'i' end },
  { 'Tab inserts a tab', function()
      check('line3_before', line(3))
      keys('<Tab>', true)
    end, function() return line(3) ~= results.checks.line3_before end },
  { 'user mapping falls through', function()
      check('line3_tab', line(3))
      keys('<M-Right>', true)
    end, function() return line(3) ~= results.checks.line3_tab end },
  { 'user Lua mapping falls through', function()
      check('line3_user_map', line(3))
      keys('<M-Down>', true)
    end, function() return line(3) ~= results.checks.line3_user_map end },
  { 'back to normal mode', function()
      check('line3_user_fn', line(3))
      keys('<Esc>')
    end, function() return api.nvim_get_mode().mode == 'n' end },
  { 'multi-line ghost text', function()
      local row = find_line('def mul(a, b):') + 1
      check('mul_row', row)
      api.nvim_win_set_cursor(0, { row, 3 })
      keys('a')
    end, function() return #ghost_marks() > 0 end },
  { 'accept a word', function()
      check('ghost2', ghost_marks())
      keys('<M-Right>', true)
    end, function() return line(results.checks.mul_row) == '    product' end },
  { 'accept a line', function()
      check('ghost_after_word', ghost_marks())
      keys('<M-Down>', true)
    end, function() return line(results.checks.mul_row) == '    product = a * b' end },
  { 'accept the rest', function()
      check('ghost_after_line', ghost_marks())
      keys('<Tab>', true)
    end, function() return line(results.checks.mul_row + 1) == '    return product' end },
  -- Cycling: ghost text from typing has one candidate; <M-]> asks again as an invoked request and
  -- moves to the next of its alternatives; further presses cycle among them without a request.
  { 'ghost text to cycle from', function()
      check('cursor_after_rest', api.nvim_win_get_cursor(0))
      keys('<Esc>o')
      keys('z')
    end, function() local g = ghost_marks()[1] return g and g.text == 'ero_a' end },
  { '<M-]> asks for the alternatives and shows the next', function()
      keys('<M-]>', true)
    end, function() local g = ghost_marks()[1] return g and g.text == 'ero_b' end },
  { '<M-]> again', function()
      keys('<M-]>', true)
    end, function() local g = ghost_marks()[1] return g and g.text == 'ero_c' end },
  { '<M-[> twice, then once more wraps around', function()
      keys('<M-[><M-[>', true)
    end, function() local g = ghost_marks()[1] return g and g.text == 'ero_a' end },
  { '<M-[> wraps', function()
      keys('<M-[>', true)
    end, function() local g = ghost_marks()[1] return g and g.text == 'ero_c' end },
  { 'Tab accepts the one shown', function()
      keys('<Tab>', true)
    end, function()
      local l = api.nvim_get_current_line()
      if l:match('^%s*zero_c$') then check('line_after_cycle', l) return true end
    end },
  { ':TandemExplain', function()
      keys('<Esc>')
      api.nvim_win_set_cursor(0, { results.checks.mul_row + 1, 0 }) -- back on "    return product"
      vim.cmd('TandemExplain')
    end, function()
      local last = last_command('tandem.explain')
      return last and last.done and (last.err or #take_floats_peek() > 0)
    end },
  { 'code action menu: Explain', function()
      check('explain_float', take_floats())
      api.nvim_win_set_cursor(0, { 2, 6 }) -- inside add()
      pick_code_action('^Explain', 'code_actions')
      vim.lsp.buf.code_action()
      check('notified_before_menu', #notified)
    end, function()
      local n = 0
      for _, c in ipairs(results.commands) do if c.command == 'tandem.explain' then n = n + 1 end end
      if n >= 2 and last_command('tandem.explain').done and #take_floats_peek() > 0 then return true end
      -- Or the menu reported an error (Neovim 0.7 to 0.9 resolve every action that has no edit).
      local errs = vim.list_slice(notified, results.checks.notified_before_menu + 1)
      if #errs > 0 then check('menu_explain_errors', errs) return true end
    end },
  { 'code action menu: Simplify', function()
      check('action_explain_float', take_floats())
      pick_code_action('^Simplify')
      vim.lsp.buf.code_action()
    end, function() return line(2) == '    return sum((a, b))' end },
  { ':TandemEdit!', function()
      vim.cmd('2TandemEdit! use a loop')
    end, function() local c = last_command('tandem.edit') return c and c.done end },
  { ':TandemCompare', function()
      vim.cmd('2TandemCompare')
    end, function() local c = last_command('tandem.compare') return c and c.done end },
  { ':TandemStats', function()
      check('compare_float', take_floats())
      vim.cmd('TandemStats')
    end, function() local c = last_command('tandem.stats') return c and c.done and #take_floats_peek() > 0 end },
  { 'the degraded status, said once', function()
      check('stats_float', take_floats())
    end, function()
      local s = require('tandem').status
      if s and s.state == 'degraded' then
        check('status_state', s.state)
        local notices = {}
        for _, n in ipairs(notified_levels) do
          if n.msg:find('^tandem: ') and (n.msg:find('degraded') or n.msg:find('offline') or n.msg:find('ok again')) then table.insert(notices, n) end
        end
        check('status_notices', notices)
        return true
      end
    end },
  -- After the degraded notice: snoozing changes the status message (not its state).
  { ':TandemSnooze 30', function()
      vim.cmd('TandemSnooze 30')
    end, function()
      local c, s = last_command('tandem.snooze'), require('tandem').status
      return c and c.done and s and type(s.snoozedUntil) == 'string'
    end },
  { ':TandemSnooze 0', function()
      check('snoozed_statusline', require('tandem').statusline())
      check('snoozed_status', require('tandem.commands').status_lines())
      vim.cmd('TandemSnooze 0')
    end, function()
      local c, s = last_command('tandem.snooze'), require('tandem').status
      return c and c.done and c.arguments[1] == 0 and s and s.snoozedUntil == nil
    end },
  { 'status and health', function()
      check('status', require('tandem.commands').status_lines())
      vim.cmd('checkhealth tandem')
      check('health', api.nvim_buf_get_lines(0, 0, -1, false))
    end, function() return true end },
}

driver.run(steps, results, finish)
