-- Drives :TandemChat in a real headless Neovim and writes what it saw to $TANDEM_TEST_OUT as JSON
-- (test/clients/neovim-chat.test.ts starts the fake vLLM and checks it). When the chat buffer first
-- shows a piece of the answer it writes $TANDEM_TEST_SEEN: the fake holds the rest until then.
local api = vim.api
local driver = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':h') .. '/steps.lua')
local out_path = driver.env('TANDEM_TEST_OUT')
local seen_path = driver.env('TANDEM_TEST_SEEN')
local file = driver.env('TANDEM_TEST_FILE')

driver.setup_with_gpu({ settings = { inline = { enabled = false } } })

local results = { version = driver.version(), checks = {}, errors = {}, requests = {} }
local function check(name, value) results.checks[name] = value end
local chat = require('tandem.chat')

local function chat_lines()
  local b = chat.state().buf
  return b and api.nvim_buf_get_lines(b, 0, -1, false) or {}
end
local function chat_text() return table.concat(chat_lines(), '\n') end

-- Records every tandem/chat request the plugin sends (its params), as the server received them.
local function spy(client)
  local orig = client.request
  client.request = function(...)
    local args = { ... }
    local i = type(args[1]) == 'table' and 2 or 1
    if args[i] == 'tandem/chat' then table.insert(results.requests, vim.deepcopy(args[i + 1])) end
    return orig(unpack(args))
  end
end

local done_count = 0
api.nvim_create_autocmd('User', { pattern = 'TandemChatDone', callback = function() done_count = done_count + 1 end })
local wrote_seen = false

local steps = {
  { 'attach', function()
      vim.cmd('edit ' .. vim.fn.fnameescape(file))
    end, function()
      local c = require('tandem').client()
      if c and c.initialized ~= false and c.server_capabilities then
        spy(c)
        return true
      end
    end },
  { 'the selection and a prompt', function()
      vim.cmd('2,3TandemChat What does this do?')
    end, function()
      -- The first piece shown while the fake holds the rest.
      if not wrote_seen and chat_text():find('It adds', 1, true) then
        check('first_piece_lines', chat_lines())
        local f = assert(io.open(seen_path, 'w'))
        f:write('seen')
        f:close()
        wrote_seen = true
      end
      return done_count >= 1
    end },
  { 'a follow-up with a #file reference', function()
      check('after_first', chat_lines())
      check('filetype', vim.bo[chat.state().buf].filetype)
      check('current_is_chat', api.nvim_get_current_buf() == chat.state().buf)
      -- Written in the buffer under the new `## You`, then <CR> in normal mode, as a user would.
      local b = chat.state().buf
      local n = api.nvim_buf_line_count(b)
      api.nvim_buf_set_lines(b, n - 1, n, false, { 'And what does #file:util.py add?' })
      api.nvim_feedkeys(api.nvim_replace_termcodes('<CR>', true, false, true), 'm', false)
    end, function() return done_count >= 2 end },
  { 'a slow answer, stopped', function()
      check('after_second', chat_lines())
      vim.cmd('TandemChat take your time')
    end, function()
      if chat_text():find('Thinking', 1, true) and chat.state().busy then
        if not results.checks.stopping then
          check('stopping', true)
          chat.stop()
        end
      end
      return done_count >= 3
    end },
  { 'after the stop', function()
      check('after_stop', chat_lines())
      check('state', { messages = chat.state().messages, references = chat.state().references, busy = chat.state().busy })
    end, function() return true end },
}

driver.run(steps, results, function() driver.write_and_quit(out_path, results) end)
