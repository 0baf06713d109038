-- :TandemChat: a Markdown chat buffer on the server's tandem/chat request. The answer streams into
-- the buffer from `$/progress` (the request's partialResultToken); the conversation (every turn,
-- and every file or selection referenced so far) is kept here and sent whole with each prompt, so
-- a follow-up continues it. Routing, privacy and the referenced files' text stay in the server.
local util = require('tandem.util')
local api = vim.api

local M = {}
local WARN, ERROR = vim.log.levels.WARN, vim.log.levels.ERROR

M.YOU = '## You'
M.BUF_NAME = 'tandem://chat'

--- The one chat: its buffer, the client it talks to, the turns and references so far, the request
--- in flight ({id, token}).
local state = { messages = {}, references = {}, seen = {} }
--- partialResultToken -> function(value): the `$/progress` handler's dispatch.
local streams = {}
local requests = 0

--- Handles a `$/progress` that carries one of the chat's tokens; true when it did.
function M.on_progress(result)
  local f = type(result) == 'table' and streams[result.token]
  if not f then return false end
  f(result.value)
  return true
end

--- `#file:path` references written in a prompt (the path ends at whitespace; a trailing
--- `.`, `,`, `;`, `:`, `)` or `!`/`?` is punctuation): their paths, in order, once each.
function M.file_refs(text)
  local out, seen = {}, {}
  for path in text:gmatch('#file:(%S+)') do
    path = path:gsub('[%.,;:%)!%?]+$', '')
    if path ~= '' and not seen[path] then
      seen[path] = true
      table.insert(out, path)
    end
  end
  return out
end

--- The prompt under the last `## You` heading of the chat buffer's lines (trimmed), or nil.
function M.pending_prompt(lines)
  local last
  for i, l in ipairs(lines) do
    if l == M.YOU then last = i end
  end
  if not last then return nil end
  local text = table.concat(vim.list_slice(lines, last + 1), '\n'):gsub('^%s+', ''):gsub('%s+$', '')
  return text ~= '' and text or nil
end

--- The lines that show a reference: `> file.py:3-7` (a range) or `> file.py`.
local function reference_line(ref, root)
  local path = vim.uri_to_fname(ref.uri)
  if root and path:sub(1, #root + 1) == root .. '/' then path = path:sub(#root + 2) end
  if ref.range then return ('> `%s:%d-%d`'):format(path, ref.range.start.line + 1, ref.range['end'].line + 1) end
  return ('> `%s`'):format(path)
end

local function add_reference(ref)
  local key = ref.uri .. (ref.range and (':' .. ref.range.start.line .. '-' .. ref.range['end'].line) or '')
  if state.seen[key] then return false end
  state.seen[key] = true
  table.insert(state.references, ref)
  return true
end

local function client()
  local c = state.client_id and vim.lsp.get_client_by_id(state.client_id)
  if c then return c end
  c = util.tandem_client(api.nvim_get_current_buf())
  if not c then
    local get = vim.lsp.get_clients or vim.lsp.get_active_clients
    for _, x in pairs(get()) do
      if x.name == 'tandem' then c = x break end
    end
  end
  state.client_id = c and c.id
  return c
end

local function valid_buf()
  return state.buf and api.nvim_buf_is_valid(state.buf)
end

local function lines() return api.nvim_buf_get_lines(state.buf, 0, -1, false) end

local function append_lines(new)
  local n = api.nvim_buf_line_count(state.buf)
  local only_empty = n == 1 and lines()[1] == ''
  api.nvim_buf_set_lines(state.buf, only_empty and 0 or n, -1, false, new)
end

--- Appends streamed `text` at the end of the buffer (it may hold newlines); keeps windows that
--- showed the end following it.
local function append_text(text)
  if not valid_buf() or text == '' then return end
  local n = api.nvim_buf_line_count(state.buf)
  local last = api.nvim_buf_get_lines(state.buf, n - 1, n, false)[1] or ''
  local parts = vim.split(last .. text, '\n', { plain = true })
  api.nvim_buf_set_lines(state.buf, n - 1, n, false, parts)
  local total = api.nvim_buf_line_count(state.buf)
  for _, w in ipairs(vim.fn.win_findbuf(state.buf)) do
    if api.nvim_win_get_cursor(w)[1] >= n then api.nvim_win_set_cursor(w, { total, 0 }) end
  end
end

--- Creates (or finds) the chat buffer and shows it in a window (a split, unless one shows it).
local function open_buffer()
  if not valid_buf() then
    state.buf = api.nvim_create_buf(true, true)
    api.nvim_buf_set_name(state.buf, M.BUF_NAME)
    vim.bo[state.buf].buftype = 'nofile'
    vim.bo[state.buf].bufhidden = 'hide'
    vim.bo[state.buf].swapfile = false
    vim.bo[state.buf].filetype = 'markdown'
    -- <CR> in normal mode sends the prompt under the last `## You`; <C-c> stops the answer.
    vim.keymap.set('n', '<CR>', function() M.send() end, { buffer = state.buf, desc = 'tandem: send the prompt' })
    vim.keymap.set('n', '<C-c>', function() M.stop() end, { buffer = state.buf, desc = 'tandem: stop the answer' })
  end
  local wins = vim.fn.win_findbuf(state.buf)
  if #wins > 0 then
    api.nvim_set_current_win(wins[1])
  else
    vim.cmd('botright vsplit')
    api.nvim_win_set_buf(0, state.buf)
    vim.wo.wrap, vim.wo.linebreak = true, true
  end
  return state.buf
end

--- Appends an empty `## You` section and puts the cursor under it.
local function new_prompt_section(text)
  append_lines({ '', M.YOU, text or '' })
  local n = api.nvim_buf_line_count(state.buf)
  for _, w in ipairs(vim.fn.win_findbuf(state.buf)) do api.nvim_win_set_cursor(w, { n, 0 }) end
end

--- Sends the prompt under the last `## You` heading (with the references so far) and streams the
--- answer below it.
function M.send()
  if not valid_buf() then return end
  if state.request then return util.notify('an answer is still coming (<C-c> stops it)', WARN) end
  local prompt = M.pending_prompt(lines())
  if not prompt then return util.notify('write a prompt under the last "' .. M.YOU .. '" first', WARN) end
  local c = client()
  if not c then return util.notify('no tandem server is running (open a file first; see :checkhealth tandem)', WARN) end
  local root = c.config.root_dir
  for _, path in ipairs(M.file_refs(prompt)) do
    local full = path:sub(1, 1) == '/' and path or ((root or vim.fn.getcwd()) .. '/' .. path)
    add_reference({ uri = vim.uri_from_fname(vim.fn.simplify(full)) })
  end
  table.insert(state.messages, { role = 'user', content = prompt })
  requests = requests + 1
  local token = ('tandem-chat-%d'):format(requests)
  local config = require('tandem').config or {}
  local params = { messages = state.messages, partialResultToken = token }
  if #state.references > 0 then params.references = state.references end
  if config.chat_model then params.model = config.chat_model end
  append_lines({ '', '## tandem', '' })
  local header = api.nvim_buf_line_count(state.buf) - 1 -- 1-based row of "## tandem"
  local shown = ''
  streams[token] = function(value)
    if type(value) == 'table' and type(value.text) == 'string' then
      shown = shown .. value.text
      append_text(value.text)
    end
  end
  local finished = false
  local function finish(err, result)
    if finished then return end
    finished = true
    streams[token] = nil
    state.request = nil
    if not valid_buf() then return end
    if err then
      -- The turn did not happen: the next send asks again with this prompt's text as it is then.
      table.remove(state.messages)
      local cancelled = err.code == -32800
      append_text((shown == '' and '' or '\n\n') .. (cancelled and '> stopped' or ('> error: ' .. tostring(err.message or vim.inspect(err)))))
      if not cancelled then util.notify('chat failed: ' .. tostring(err.message), ERROR) end
    else
      local text = type(result) == 'table' and type(result.text) == 'string' and result.text or shown
      -- A server that sent no (or fewer) partial results: the rest of the text now.
      if text:sub(1, #shown) == shown and #text > #shown then append_text(text:sub(#shown + 1)) end
      table.insert(state.messages, { role = 'assistant', content = text })
      if type(result) == 'table' and result.backend then
        local where = result.location == 'cloud' and 'cloud' or 'on-prem'
        api.nvim_buf_set_lines(state.buf, header - 1, header, false, { ('## tandem · %s (%s)'):format(result.backend, where) })
      end
    end
    new_prompt_section()
    api.nvim_exec_autocmds('User', { pattern = 'TandemChatDone', modeline = false })
  end
  local ok, id = util.call(c, 'request', 'tandem/chat', params, function(err, result) finish(err, result) end, state.buf)
  if not ok then
    streams[token] = nil
    table.remove(state.messages)
    return util.notify('chat request could not be sent (the server has stopped?)', ERROR)
  end
  state.request = { id = id, token = token, client_id = c.id, finish = finish }
end

--- Stops the answer being streamed ($/cancelRequest); the server aborts the backend's request.
function M.stop()
  local r = state.request
  if not r then return end
  local c = vim.lsp.get_client_by_id(r.client_id)
  if c then util.call(c, 'cancel_request', r.id) end
  -- Neovim drops the server's answer to a cancelled request without calling the handler.
  r.finish({ code = -32800, message = 'cancelled' })
end

--- Starts a new conversation: forgets the turns and references, empties the buffer.
function M.reset()
  M.stop()
  state.messages, state.references, state.seen = {}, {}, {}
  if valid_buf() then api.nvim_buf_set_lines(state.buf, 0, -1, false, {}) end
end

--- Row (1-based) of the last `## You` heading, and whether it is the last heading (its prompt
--- not sent yet).
local function last_you()
  local you, answer = nil, nil
  for i, l in ipairs(lines()) do
    if l == M.YOU then you = i elseif l:match('^## tandem') then answer = i end
  end
  return you, you ~= nil and (answer == nil or you > answer)
end

--- :[range]TandemChat[!] [prompt]: opens the chat buffer. With a range (a visual selection), those
--- lines of the current file become a reference; with a prompt it is sent at once, else the cursor
--- waits under `## You` (write, then <CR> in normal mode). ! starts a new conversation.
function M.command(opts)
  local src = api.nvim_get_current_buf()
  local c = src ~= state.buf and util.tandem_client(src)
  if c then state.client_id = c.id end
  local ref
  if opts.range and opts.range > 0 and src ~= state.buf and api.nvim_buf_get_name(src) ~= '' then
    local last = util.line(src, opts.line2 - 1)
    ref = { uri = vim.uri_from_bufnr(src), range = { start = { line = opts.line1 - 1, character = 0 }, ['end'] = { line = opts.line2 - 1, character = util.utf16_len(last) } } }
  end
  if opts.bang then M.reset() end
  open_buffer()
  if ref and add_reference(ref) then
    local cl = client()
    local shown = reference_line(ref, cl and cl.config.root_dir)
    local you, open = last_you()
    -- Above the prompt being written, so it is not part of it.
    if open then api.nvim_buf_set_lines(state.buf, you - 1, you - 1, false, { shown }) else append_lines({ shown }) end
  end
  local you, open = last_you()
  if opts.args and opts.args ~= '' then
    if open then
      -- The prompt written so far, then this one.
      local pending = M.pending_prompt(lines())
      api.nvim_buf_set_lines(state.buf, you, -1, false, vim.split((pending and (pending .. '\n') or '') .. opts.args, '\n', { plain = true }))
    else
      new_prompt_section(opts.args)
    end
    M.send()
  elseif not open then
    new_prompt_section()
  else
    local n = api.nvim_buf_line_count(state.buf)
    api.nvim_win_set_cursor(0, { n, 0 })
  end
end

--- The chat's state, for tests and statuslines: the turns sent and the references.
function M.state()
  return { messages = state.messages, references = state.references, busy = state.request ~= nil, buf = state.buf }
end

return M
