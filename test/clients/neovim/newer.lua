-- The plugin's Lua for newer Neovim, run in the Neovim at hand (0.7.2 in CI): what needs no newer
-- Neovim is run for real, what does is reached through the APIs' documented shapes, put in place
-- here. $TANDEM_NEWER_MODE picks one of:
--   lsp_config: the README's lazy.nvim spec loaded as lazy.nvim would; the help file; the status
--     notifications; and lsp/tandem.lua handed to vim.lsp.config/vim.lsp.enable as 0.11 documents
--     them (no setup() call), then ghost text from the real server through it;
--   native: vim.lsp.inline_completion present (0.12's enable/get): the plugin enables it per buffer
--     on attach, maps <Tab> to get() with fall-through, and draws no ghost text of its own.
-- Writes what it saw to $TANDEM_TEST_OUT as JSON; test/clients/neovim.test.ts checks it.
local api = vim.api
local out_path = assert(os.getenv('TANDEM_TEST_OUT'), 'TANDEM_TEST_OUT')
local file = assert(os.getenv('TANDEM_TEST_FILE'), 'TANDEM_TEST_FILE')
local plugin = assert(os.getenv('TANDEM_NVIM_PLUGIN'), 'TANDEM_NVIM_PLUGIN')
local mode = assert(os.getenv('TANDEM_NEWER_MODE'), 'TANDEM_NEWER_MODE')
local cmd = { assert(os.getenv('TANDEM_NODE')), assert(os.getenv('TANDEM_SERVER')), '--stdio' }
local backends = { fim = { kind = 'vllm', url = assert(os.getenv('TANDEM_FAKE_URL')) } }

vim.opt.rtp:prepend(plugin)
vim.o.swapfile = false
vim.g.python_recommended_style = 0

local results = { mode = mode, checks = {}, errors = {} }
local function check(name, value) results.checks[name] = value end
local driver = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':h') .. '/steps.lua')

-- Every vim.notify, with its level.
local notified = {}
vim.notify = function(msg, level) table.insert(notified, { msg = msg, level = level or vim.log.levels.INFO }) end

local function user_commands()
  local names = {}
  -- An empty dictionary from the API carries a non-string key in 0.7 (vim.type_idx).
  for name in pairs(api.nvim_get_commands({})) do
    if type(name) == 'string' and name:find('^Tandem') then table.insert(names, name) end
  end
  table.sort(names)
  return names
end

local steps

if mode == 'lsp_config' then
  -- The README's lazy.nvim spec, as a Lua expression (lazy.nvim reads specs as Lua tables).
  local spec_text = assert(io.open(assert(os.getenv('TANDEM_LAZY_SPEC')))):read('*a')
  local chunk, err = loadstring('return ' .. spec_text, 'README lazy.nvim spec')
  check('spec_parses', chunk ~= nil or err)
  if chunk then
    local spec = chunk()
    check('spec', {
      dir = spec.dir, name = spec.name, main = spec.main, event = spec.event, build = spec.build,
      opts_keys = vim.tbl_keys(spec.opts or {}), cmd = spec.opts and spec.opts.cmd,
      settings = spec.opts and spec.opts.settings,
    })
    -- What lazy.nvim does with it on the first file: require(main).setup(opts). The options must
    -- be ones setup() knows.
    local tandem = require(spec.main)
    local unknown = {}
    for k in pairs(spec.opts) do
      if tandem.config[k] == nil then table.insert(unknown, k) end
    end
    check('spec_unknown_opts', unknown)
  end

  -- :help tandem after :helptags, on a copy (the checkout's doc/ stays as it is).
  local doc = vim.fn.tempname()
  vim.fn.mkdir(doc .. '/doc', 'p')
  vim.fn.writefile(vim.fn.readfile(plugin .. '/doc/tandem.txt'), doc .. '/doc/tandem.txt')
  vim.cmd('helptags ' .. vim.fn.fnameescape(doc .. '/doc'))
  vim.opt.rtp:prepend(doc)
  local helped = pcall(vim.cmd, 'help tandem')
  check('help', { ok = helped, file = vim.fn.expand('%:t'), line = api.nvim_get_current_line() })
  if helped then vim.cmd('close') end
  local tags = {}
  for _, l in ipairs(vim.fn.readfile(doc .. '/doc/tags')) do table.insert(tags, (l:match('^([^\t]+)'))) end
  check('help_tags', tags)
  check('options', vim.tbl_keys(require('tandem').config))

  -- Status notifications: one per change into degraded or offline, one when ok again.
  local tandem = require('tandem')
  local function status(state, message) tandem.on_status(nil, { state = state, message = message, backends = {} }) end
  local before = #notified
  status('ok', 'inline via fim')
  status('degraded', 'inline via fim; chat: connection refused')
  status('degraded', 'inline via fim; chat: timed out') -- same state, new message: no second notice
  status('offline', 'no backend for inline completions')
  status('ok', 'inline via fim')
  status('ok', 'inline via fim (12 ms)')
  check('status_notified', vim.list_slice(notified, before + 1))
  tandem.config.notify = false
  before = #notified
  status('offline', 'no backend for inline completions')
  check('status_notified_off', #notified - before)
  tandem.config.notify = true
  tandem.status = nil

  -- Neovim 0.11's vim.lsp.config / vim.lsp.enable, reduced to what their documentation says a
  -- configuration gets: lsp/<name>.lua from the runtimepath, merged under what the user gave
  -- vim.lsp.config(name, ...); on each FileType, `filetypes` (nil: all) and `root_dir(bufnr,
  -- on_dir)` decide, and the client starts (reused per name and root) with `on_attach`.
  assert(vim.lsp.config == nil and vim.lsp.enable == nil, 'this Neovim has vim.lsp.config: run the real thing instead')
  local given, running, starts = {}, {}, 0
  vim.lsp.config = setmetatable({}, {
    __call = function(_, name, cfg) given[name] = vim.tbl_deep_extend('force', given[name] or {}, cfg) end,
    __index = function(_, name)
      local path = api.nvim_get_runtime_file('lsp/' .. name .. '.lua', false)[1]
      check('lsp_file', path or vim.NIL)
      return vim.tbl_deep_extend('force', path and dofile(path) or {}, given[name] or {})
    end,
  })
  vim.lsp.enable = function(name)
    api.nvim_create_autocmd('FileType', {
      callback = function(ev)
        local config = vim.lsp.config[name]
        if vim.bo[ev.buf].buftype ~= '' then return end
        if config.filetypes and not vim.tbl_contains(config.filetypes, ev.match) then return end
        config.root_dir(ev.buf, function(root)
          if not root then return end
          local key = name .. '\0' .. root
          if not running[key] then
            config.name, config.root_dir = name, root
            config.workspace_folders = { { uri = vim.uri_from_fname(root), name = root } }
            check('enabled_config', {
              cmd = config.cmd, root_dir = root, init_options = config.init_options,
              inlineCompletion = config.capabilities.textDocument.inlineCompletion ~= nil,
              configuration = config.capabilities.workspace.configuration,
              status_handler = type(config.handlers['tandem/status']),
              explain_command = type(config.commands['tandem.explain']),
              on_attach = type(config.on_attach),
            })
            running[key] = vim.lsp.start_client(config)
            starts = starts + 1
          end
          vim.lsp.buf_attach_client(ev.buf, running[key])
        end)
      end,
    })
  end

  -- A user's init.lua on 0.11+: no setup() call.
  vim.lsp.config('tandem', { cmd = cmd, init_options = { backends = backends, inline = { debounceMs = 0, deadlineMs = 20000 } } })
  vim.lsp.enable('tandem')
  check('commands_before_attach', user_commands())

  steps = {
    { 'open a file: vim.lsp.enable starts tandem', function()
        vim.cmd('edit ' .. vim.fn.fnameescape(file))
      end, function()
        local c = require('tandem').client()
        return c and c.initialized ~= false and #user_commands() > 0
      end },
    { 'type: ghost text through on_attach', function()
        check('commands_after_attach', user_commands())
        -- setup() was never called: a second buffer in the same root reuses the client.
        api.nvim_win_set_cursor(0, { 2, 4 })
        api.nvim_feedkeys('ae', 'n', false)
      end, function()
        local g = driver.ghost_text()
        if g then check('ghost', g) return true end
      end },
    { 'accept with Tab', function()
        api.nvim_feedkeys(api.nvim_replace_termcodes('<Tab>', true, false, true), 'm', false)
      end, function() return api.nvim_buf_get_lines(0, 1, 2, false)[1] == '    return a + b' end },
    { 'setup() does not start a second server for the attached buffer', function()
        api.nvim_feedkeys(api.nvim_replace_termcodes('<Esc>', true, false, true), 'n', false)
        local before_clients = #vim.lsp.get_active_clients()
        require('tandem').attach(0)
        check('clients_before_after_attach', { before_clients, #vim.lsp.get_active_clients() })
        check('starts', starts)
      end, function() return true end },
  }
elseif mode == 'native' then
  -- 0.12's vim.lsp.inline_completion as documented: enable(enable, filter) and get(), which
  -- accepts the shown item (running its command) and returns true, or returns false.
  assert(vim.lsp.inline_completion == nil, 'this Neovim has vim.lsp.inline_completion: run the real thing instead')
  local calls = { enable = {}, get = 0 }
  local get_returns = false
  vim.lsp.inline_completion = {
    enable = function(enable, filter) table.insert(calls.enable, { enable = enable, filter = filter }) end,
    get = function()
      calls.get = calls.get + 1
      return get_returns
    end,
  }
  require('tandem').setup({ cmd = cmd, settings = { backends = backends, inline = { debounceMs = 0 } }, debounce_ms = 10 })
  steps = {
    { 'attach', function()
        vim.cmd('edit ' .. vim.fn.fnameescape(file))
        vim.bo.expandtab = false
      end, function() return #calls.enable > 0 end },
    { 'Tab with nothing shown: get() is asked, then a tab is typed', function()
        check('enable_calls', calls.enable)
        check('bufnr', api.nvim_get_current_buf())
        api.nvim_win_set_cursor(0, { 3, 0 })
        api.nvim_feedkeys(api.nvim_replace_termcodes('i<Tab>', true, false, true), 'm', false)
      end, function() return api.nvim_buf_get_lines(0, 2, 3, false)[1] == '\t' end },
    { 'Tab while get() accepts: nothing else is typed', function()
        check('gets_after_fallthrough', calls.get)
        get_returns = true
        api.nvim_feedkeys(api.nvim_replace_termcodes('<Tab>', true, false, true), 'm', false)
      end, function() return calls.get == results.checks.gets_after_fallthrough + 1 end },
    { 'typing draws no ghost text of the plugin', function()
        check('line_after_accept', api.nvim_buf_get_lines(0, 2, 3, false)[1])
        api.nvim_feedkeys(api.nvim_replace_termcodes('<Esc>', true, false, true), 'n', false)
        api.nvim_win_set_cursor(0, { 2, 4 })
        api.nvim_feedkeys('ae', 'n', false)
      end, function() return true end },
    { 'health', function()
        -- The plugin's own requests would be sent after debounce_ms: give them a chance, then look.
        vim.wait(200)
        check('ghost', driver.ghost_text() or vim.NIL)
        vim.cmd('checkhealth tandem')
        check('health', api.nvim_buf_get_lines(0, 0, -1, false))
      end, function() return true end },
  }
else
  error('unknown TANDEM_NEWER_MODE ' .. mode)
end

driver.run(steps, results, function()
  results.notified = notified
  driver.write_and_quit(out_path, results)
end)
