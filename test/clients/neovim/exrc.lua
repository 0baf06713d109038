-- A user's Neovim (loaded from their init.vim, with 'exrc' set) opening a project whose exrc calls
-- tandem's setup() with another model server. Waits until the server reports the pulled
-- configuration loaded, types to get ghost text, and writes what it saw to $TANDEM_TEST_OUT as
-- JSON; test/clients/neovim.test.ts checks which fake vLLM was asked.
local api = vim.api
local out_path = assert(os.getenv('TANDEM_TEST_OUT'), 'TANDEM_TEST_OUT')
local file = assert(os.getenv('TANDEM_TEST_FILE'), 'TANDEM_TEST_FILE')

local results = { errors = {}, log = {}, shown = {}, pulls = {} }
local driver = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':h') .. '/steps.lua')

-- What the server logs and shows, and what Neovim answers to its workspace/configuration pulls.
local handlers = vim.lsp.handlers
local orig_log, orig_show, orig_conf = handlers['window/logMessage'], handlers['window/showMessage'], handlers['workspace/configuration']
handlers['window/logMessage'] = function(err, result, ...)
  table.insert(results.log, result.message)
  return orig_log(err, result, ...)
end
handlers['window/showMessage'] = function(err, result, ...)
  table.insert(results.shown, { type = result.type, message = result.message })
  return orig_show(err, result, ...)
end
handlers['workspace/configuration'] = function(...)
  local answer = orig_conf(...)
  table.insert(results.pulls, answer)
  return answer
end

if os.getenv('TANDEM_USER_SETUP') == '1' then
  -- The user's own configuration: their model server.
  require('tandem').setup({
    cmd = { assert(os.getenv('TANDEM_NODE')), assert(os.getenv('TANDEM_SERVER')), '--stdio' },
    settings = { backends = { fim = { kind = 'vllm', url = assert(os.getenv('TANDEM_HOME_URL')) } }, inline = { debounceMs = 0 } },
    debounce_ms = 10,
  })
end

local function finish()
  local tandem = require('tandem')
  local c = tandem.client()
  if c then
    results.init_options = c.config.init_options
    results.settings = c.config.settings
  end
  results.repository_source = tandem.repository_source or vim.NIL
  driver.write_and_quit(out_path, results)
end

-- The server pulled the editor's section after initialize and reports it in force.
local function loaded()
  for _, m in ipairs(results.log) do
    if m:find('configuration loaded (initialized)', 1, true) then return true end
  end
end

local steps = {
  { 'attach and load the configuration', function()
      vim.cmd('edit ' .. vim.fn.fnameescape(file))
    end, function() return require('tandem').client() ~= nil and #results.pulls > 0 and loaded() end },
  { 'type to get ghost text', function()
      api.nvim_win_set_cursor(0, { 2, 4 })
      api.nvim_feedkeys('ae', 'n', false)
    end, function()
      results.ghost = driver.ghost_text()
      return results.ghost ~= nil
    end },
}

driver.run(steps, results, finish)
