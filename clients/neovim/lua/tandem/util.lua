-- Small helpers that paper over API differences between Neovim 0.7 and 0.12.
local M = {}

M.nvim011 = vim.fn.has('nvim-0.11') == 1

--- A settings table as a JSON object: an empty Lua table would be sent as `[]`.
function M.object(t)
  if t == nil or next(t) == nil then return vim.empty_dict() end
  return t
end

--- Calls a client method: `client:m(...)` from 0.11 on, `client.m(...)` before.
function M.call(client, method, ...)
  if M.nvim011 then return client[method](client, ...) end
  return client[method](...)
end

function M.tandem_client(bufnr)
  -- get_clients is 0.10+; buf_get_clients covers 0.7 to 0.9.
  local clients = vim.lsp.get_clients and vim.lsp.get_clients({ bufnr = bufnr }) or vim.lsp.buf_get_clients(bufnr)
  for _, c in pairs(clients) do
    if c.name == 'tandem' then return c end
  end
end

--- Byte index in `line` of a UTF-16 offset (LSP positions count UTF-16 code units).
function M.byte_col(line, utf16)
  local ok, col
  if M.nvim011 then
    ok, col = pcall(vim.str_byteindex, line, 'utf-16', utf16, false)
  else
    ok, col = pcall(vim.str_byteindex, line, utf16, true)
  end
  return ok and col or #line
end

--- UTF-16 length of `line`, or of its first `bytes` bytes.
function M.utf16_len(line, bytes)
  if M.nvim011 then return vim.str_utfindex(line, 'utf-16', bytes, false) end
  local _, u16 = vim.str_utfindex(line, bytes)
  return u16
end

function M.line(bufnr, row)
  return vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
end

-- The user's own mappings of our keys, by mode then key, captured the first time a key is mapped
-- (never one of ours: a second setup must not capture the first one's mapping).
local previous_maps = {}

local function feed(keys, remap)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(keys, true, false, true), remap and 'im' or 'in', false)
end

--- Runs the user's own `mode` mapping of `key` (captured at setup), else types the key itself.
local function fall_through(mode, key)
  local prev = previous_maps[mode][key]
  if prev and prev.callback then
    local r = prev.callback()
    if prev.expr == 1 and type(r) == 'string' then feed(r, prev.noremap ~= 1) end
  elseif prev and prev.rhs and prev.rhs ~= '' then
    feed(prev.expr == 1 and vim.api.nvim_eval(prev.rhs) or prev.rhs, prev.noremap ~= 1)
  else
    feed(key, false)
  end
end

--- Maps `key` in `mode` ('i', 'n') to `action`; when the action returns false (nothing of ours
--- to act on) the key does what it did before tandem: the user's own mapping, else the key.
--- `desc` must start with 'tandem:', which marks the mappings that are ours. No `key` (none
--- configured): nothing is mapped.
function M.map_falling_through(mode, key, desc, action)
  if not key then return end
  previous_maps[mode] = previous_maps[mode] or {}
  if previous_maps[mode][key] == nil then
    local prev = vim.fn.maparg(key, mode, false, true)
    if type(prev.callback) == 'number' then
      -- Through vim.fn, Neovim 0.7-0.9 give a Lua callback as a number that Lua cannot call;
      -- the API's own list carries the function itself.
      local maps = prev.buffer == 1 and vim.api.nvim_buf_get_keymap(0, mode) or vim.api.nvim_get_keymap(mode)
      for _, m in ipairs(maps) do
        if m.lhs == prev.lhs then prev.callback = m.callback end
      end
      if type(prev.callback) ~= 'function' then prev.callback = nil end
    end
    previous_maps[mode][key] = (prev.desc or ''):find('^tandem:') == nil and prev or {}
  end
  vim.keymap.set(mode, key, function()
    if not action() then fall_through(mode, key) end
  end, { silent = true, desc = desc })
end

function M.notify(msg, level)
  vim.notify('tandem: ' .. msg, level or vim.log.levels.INFO)
end

return M
