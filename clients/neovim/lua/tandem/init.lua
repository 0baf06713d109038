-- tandem for Neovim: starts tandem-lsp for your buffers, wires the ghost text, the commands and the
-- chat buffer (chat.lua).
-- The server does prompts, context, routing and caching; this file only talks LSP.
local inline = require('tandem.inline')
local nextedit = require('tandem.nextedit')
local util = require('tandem.util')

local M = {}

local defaults = {
  -- The server command. From a checkout: { 'node', '--max-semi-space-size=4', '/path/to/tandem/server/bin/tandem-lsp.js', '--stdio' }.
  cmd = { 'tandem-lsp', '--stdio' },
  -- Filetypes to attach to; nil attaches to every buffer that has a file.
  filetypes = nil,
  -- The first directory upwards holding one of these is the workspace root (else the cwd).
  root_markers = { 'tandem.json', '.git' },
  -- The `tandem` section (see server/tandem.schema.json). From your own config it is user-level:
  -- sent as initializationOptions, the launch configuration the server trusts. From a project's
  -- exrc it is repository-level (see M.repository_settings). Empty: the server's own files apply.
  settings = {},
  -- Idle time in insert mode before asking; the server adds its own adaptive debounce.
  debounce_ms = 30,
  -- Neovim 0.12+: let vim.lsp.inline_completion render and accept (no word/line accept there).
  native = true,
  -- Insert-mode keys; each falls through to your own mapping (or the key itself) when no
  -- ghost text is shown. Set one to false to leave that key alone.
  keymaps = { accept = '<Tab>', accept_word = '<M-Right>', accept_line = '<M-Down>', dismiss = '<C-]>', next = '<M-]>', previous = '<M-[>' },
  hl_group = 'Comment',
  -- vim.notify once when the server's status turns degraded or offline (and when it is ok again).
  notify = true,
  -- :TandemChat's model: nil (the server's `tandem/auto`, the chat route) or 'tandem/<backend>'.
  chat_model = nil,
  -- Next edits (textDocument/copilotInlineEdit): when an edit settles in normal mode, the edit you
  -- will make next, as a diff preview; `accept` applies it, `dismiss` (or typing, or moving away)
  -- drops it. Off unless enabled: each settled edit asks the model (see :help tandem-next-edit).
  next_edit = {
    enabled = false,
    debounce_ms = 150,
    keymaps = { accept = '<Tab>', dismiss = '<Esc>' },
    hl_delete = 'DiffDelete',
    hl_add = 'DiffAdd',
  },
}

M.config = vim.deepcopy(defaults)
--- Last `tandem/status` notification: {state, message, backends = {{name, healthy, latencyMs}}, snoozedUntil?}.
M.status = nil
--- `settings` given to setup() by a project's exrc (.nvimrc, .exrc, .nvim.lua): answered only to
--- workspace/configuration, which the server treats as repository-level (where code goes may only
--- tighten there), never sent as initializationOptions.
M.repository_settings = {}
--- The exrc file those came from.
M.repository_source = nil

-- A project's exrc is repository content: whoever wrote the repository chose what it says.
local EXRC_NAMES = { ['.nvimrc'] = true, ['.exrc'] = true, ['.nvim.lua'] = true }
local function is_exrc(path)
  return type(path) == 'string' and EXRC_NAMES[vim.fn.fnamemodify(path, ':t')] == true
end

-- The exrc files being sourced right now, outermost first: an exrc may `:source` another file
-- that calls setup(). Tracked from the moment this module loads (your config requires it first).
local sourcing_exrc = {}
local exrc_group = vim.api.nvim_create_augroup('tandem_exrc', { clear = true })
vim.api.nvim_create_autocmd('SourcePre', {
  group = exrc_group,
  callback = function(ev) if is_exrc(ev.match) then table.insert(sourcing_exrc, ev.match) end end,
})
vim.api.nvim_create_autocmd('SourcePost', {
  group = exrc_group,
  callback = function(ev)
    if is_exrc(ev.match) and sourcing_exrc[#sourcing_exrc] == ev.match then table.remove(sourcing_exrc) end
  end,
})

--- The exrc file running this setup() call, if any.
local function calling_exrc()
  if #sourcing_exrc > 0 then return sourcing_exrc[1] end
  -- This module loaded by the exrc itself: a Lua exrc (.nvim.lua) is on the call stack, ...
  for level = 3, 64 do
    local info = debug.getinfo(level, 'S')
    if not info then break end
    if info.source:sub(1, 1) == '@' and is_exrc(info.source:sub(2)) then return info.source:sub(2) end
  end
  -- ... and a Vimscript one (`lua require('tandem').setup(...)` in .nvimrc) is the script being sourced.
  local ok, sfile = pcall(vim.fn.expand, '<sfile>')
  if ok and is_exrc(sfile) then return sfile end
end

local clients_by_root = {} -- Neovim 0.7 only: vim.lsp.start (0.8+) does this bookkeeping itself.

local function find_root(bufnr)
  local dir = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(bufnr), ':p:h')
  for _, marker in ipairs(M.config.root_markers) do
    local hit = vim.fn.finddir(marker, dir .. ';')
    if hit ~= '' then return vim.fn.fnamemodify(hit, ':p:h:h') end -- ':p' ends a directory with '/'
    hit = vim.fn.findfile(marker, dir .. ';')
    if hit ~= '' then return vim.fn.fnamemodify(hit, ':p:h') end
  end
  return vim.fn.getcwd()
end

local NOTIFY_LEVEL = { degraded = vim.log.levels.WARN, offline = vim.log.levels.ERROR }

--- The `tandem/status` handler: keeps the last status, fires `User TandemStatus`, and says it once
--- (vim.notify) when the state turns degraded or offline, and once when it is ok again: the server
--- repeats a state whenever its message changes, which must not repeat the message.
function M.on_status(_, params)
  if type(params) ~= 'table' then return end
  local before = M.status and M.status.state
  M.status = params
  if M.config.notify and params.state ~= before then
    if NOTIFY_LEVEL[params.state] then
      util.notify(('%s: %s (:TandemStatus)'):format(params.state, params.message or ''), NOTIFY_LEVEL[params.state])
    elseif params.state == 'ok' and NOTIFY_LEVEL[before] then
      util.notify('ok again: ' .. (params.message or ''))
    end
  end
  vim.api.nvim_exec_autocmds('User', { pattern = 'TandemStatus', modeline = false })
end

--- The client configuration without a workspace root: what `lsp/tandem.lua` hands to
--- vim.lsp.config (0.11+), and what M.attach starts with a root on every version.
function M.lsp_config()
  local caps = vim.lsp.protocol.make_client_capabilities()
  -- Declaring inline completion tells the server we render ghost text, so it offers no
  -- textDocument/completion (which would put model calls into the completion popup).
  caps.textDocument.inlineCompletion = caps.textDocument.inlineCompletion or { dynamicRegistration = false }
  -- Neovim answers workspace/configuration from `settings` in every version, but 0.7 does not
  -- declare it (nor push the settings): without this the server would never see them.
  caps.workspace.configuration = true
  return {
    cmd = M.config.cmd,
    filetypes = M.config.filetypes,
    -- vim.lsp.enable (0.11+) calls this per buffer: the same root as setup() finds, cwd last.
    root_dir = function(bufnr, on_dir) on_dir(find_root(bufnr)) end,
    capabilities = caps,
    -- Your settings go only where the server trusts them as yours; workspace/configuration (and
    -- the push Neovim sends after initialize) carries the repository's, which may only tighten.
    init_options = util.object(M.config.settings),
    settings = { tandem = util.object(M.repository_settings) },
    handlers = {
      ['tandem/status'] = M.on_status,
      -- :TandemChat's streamed answers come as partial results; other progress goes to Neovim's own handler.
      ['$/progress'] = function(err, result, ctx, config)
        if require('tandem.chat').on_progress(result) then return end
        return vim.lsp.handlers['$/progress'](err, result, ctx, config)
      end,
    },
    -- The Explain code action runs here, so vim.lsp.buf.code_action() shows its answer in a float.
    commands = { ['tandem.explain'] = function(...) return require('tandem.commands').explain_action(...) end },
    on_attach = function(client, bufnr) M.on_attach(client, bufnr) end,
  }
end

local function lsp_config(root)
  local config = M.lsp_config()
  config.name = 'tandem'
  config.root_dir = root
  config.workspace_folders = { { uri = vim.uri_from_fname(root), name = root } }
  config.filetypes = nil -- setup()'s own autocommands choose the buffers
  return config
end

--- Starts (or reuses) the server for this buffer's workspace and attaches the buffer.
function M.attach(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  if vim.bo[bufnr].buftype ~= '' or vim.api.nvim_buf_get_name(bufnr) == '' then return end
  -- Already served, e.g. by vim.lsp.enable('tandem') on 0.11+: never a second server.
  local attached = util.tandem_client(bufnr)
  if attached then return attached.id end
  local root = find_root(bufnr)
  local id
  if vim.lsp.start then
    id = vim.lsp.start(lsp_config(root), { bufnr = bufnr })
  else
    id = clients_by_root[root]
    if not (id and vim.lsp.get_client_by_id(id)) then
      id = vim.lsp.start_client(lsp_config(root))
      clients_by_root[root] = id
    end
    if id then vim.lsp.buf_attach_client(bufnr, id) end
  end
  return id
end

function M.use_native()
  return M.config.native and vim.lsp.inline_completion ~= nil
end

--- The tandem client attached to a buffer, if any.
function M.client(bufnr)
  return util.tandem_client(bufnr or vim.api.nvim_get_current_buf())
end

--- A short text for your statusline: "tandem ok 42ms", "tandem degraded", "tandem offline",
--- "tandem snoozed" (:TandemSnooze).
function M.statusline()
  local s = M.status
  if not s then return M.client() and 'tandem' or '' end
  if type(s.snoozedUntil) == 'string' then return 'tandem snoozed' end
  local latency
  for _, b in ipairs(s.backends or {}) do
    if b.healthy and b.latencyMs then latency = b.latencyMs break end
  end
  return ('tandem %s%s'):format(s.state, latency and (' %dms'):format(latency) or '')
end

local function define_commands()
  local commands = require('tandem.commands')
  vim.api.nvim_create_user_command('TandemExplain', commands.explain, { range = true, desc = 'tandem: explain the selected lines' })
  vim.api.nvim_create_user_command('TandemEdit', commands.edit, { range = true, bang = true, nargs = '*', desc = 'tandem: edit the selected lines by an instruction (! for workspace scope)' })
  vim.api.nvim_create_user_command('TandemCompare', commands.compare, { range = true, nargs = '*', desc = 'tandem: two backends side by side (explanations, or edits for an instruction)' })
  vim.api.nvim_create_user_command('TandemStats', commands.stats, { desc = 'tandem: requests, acceptances, latency and spend' })
  vim.api.nvim_create_user_command('TandemStatus', commands.status, { desc = 'tandem: server and backend status' })
  vim.api.nvim_create_user_command('TandemSnooze', commands.snooze, { nargs = '?', desc = 'tandem: no ghost text for [minutes] (default 30); 0 resumes' })
  vim.api.nvim_create_user_command('TandemChat', function(opts) require('tandem.chat').command(opts) end, { range = true, bang = true, nargs = '*', desc = 'tandem: chat (the selected lines as a reference; ! starts a new conversation)' })
end

-- The augroup the ghost text's autocommands live in; nil until setup() or the first attach.
local ui_group

--- Commands, ghost text and keys, with M.config as it is now.
local function start_ui(group)
  ui_group = group
  define_commands()
  if M.use_native() then inline.setup_native(M.config) else inline.setup(M.config, group) end
  nextedit.setup(M.config.next_edit, group)
end

--- Runs for every buffer the server attaches to, whichever way it was started: setup(), or
--- vim.lsp.enable('tandem') with lsp/tandem.lua and no setup() call (defaults then apply).
function M.on_attach(client, bufnr)
  if not ui_group then start_ui(vim.api.nvim_create_augroup('tandem', { clear = true })) end
  if M.use_native() then vim.lsp.inline_completion.enable(true, { bufnr = bufnr }) end
  nextedit.attached(client, bufnr)
end

function M.setup(opts)
  opts = opts or {}
  local exrc = calling_exrc()
  if exrc then
    -- Other options (keys, filetypes, ...) apply as given; the settings are the repository's.
    M.repository_settings, M.repository_source = opts.settings or {}, exrc
    local rest = vim.deepcopy(opts)
    rest.settings = nil
    M.config = vim.tbl_deep_extend('force', M.config, rest)
  else
    M.config = vim.tbl_deep_extend('force', vim.deepcopy(defaults), opts)
  end
  local group = vim.api.nvim_create_augroup('tandem', { clear = true })
  local fts = M.config.filetypes
  vim.api.nvim_create_autocmd(fts and 'FileType' or { 'BufReadPost', 'BufNewFile' }, {
    group = group,
    pattern = fts or '*',
    callback = function(ev) M.attach(ev.buf) end,
  })
  start_ui(group)
  -- Buffers loaded before setup() ran (lazy loading) attach now.
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(b) and (not fts or vim.tbl_contains(fts, vim.bo[b].filetype)) then M.attach(b) end
  end
end

return M
