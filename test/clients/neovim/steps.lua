-- What the Neovim test drivers share: starting tandem, running their steps, reading the ghost
-- text, and handing the results to the test.
local M = {}

--- The variable `name` of the test's environment (test/clients/headless.ts sets them); an error without it.
function M.env(name)
  return assert(os.getenv(name), name)
end

--- Puts the plugin ($TANDEM_NVIM_PLUGIN) on the runtime path and calls its setup() with `opts`,
--- starting the built server with one backend, `gpu`: the fake vLLM at $TANDEM_FAKE_URL.
function M.setup_with_gpu(opts)
  vim.opt.rtp:prepend(M.env('TANDEM_NVIM_PLUGIN'))
  vim.o.swapfile = false
  opts.cmd = { M.env('TANDEM_NODE'), M.env('TANDEM_SERVER'), '--stdio' }
  opts.settings.backends = { gpu = { kind = 'vllm', url = M.env('TANDEM_FAKE_URL') } }
  require('tandem').setup(opts)
end

--- Neovim's version as major.minor.patch.
function M.version()
  local v = vim.version()
  return v.major .. '.' .. v.minor .. '.' .. v.patch
end

--- Writes `results` (with Neovim's :messages) as JSON to `path` and quits Neovim.
function M.write_and_quit(path, results)
  results.messages = vim.fn.execute('messages')
  local f = assert(io.open(path, 'w'))
  f:write(vim.fn.json_encode(results))
  f:close()
  vim.cmd('qa!')
end

--- The text of the plugin's ghost-text extmark in the current buffer, if one is shown.
function M.ghost_text()
  local marks = vim.api.nvim_buf_get_extmarks(0, require('tandem.inline').ns, 0, -1, { details = true })
  local d = marks[1] and marks[1][4]
  return d and d.virt_text and d.virt_text[1][1]
end

--- Runs the steps in order once Neovim has started: each acts, then polls (every 20 ms, without
--- blocking Neovim's event loop) until its condition holds; an error or the deadline ends the run.
--- `results.errors` collects what went wrong, `results.step` names the step reached.
function M.run(steps, results, finish)
  local deadline = vim.loop.now() + tonumber(os.getenv('TANDEM_TEST_TIMEOUT_MS') or '20000')
  local function run(i)
    if i > #steps then
      results.done = true
      return finish()
    end
    local name, act, ready = steps[i][1], steps[i][2], steps[i][3]
    results.step = name
    local ok, e = pcall(act)
    if not ok then
      table.insert(results.errors, name .. ': ' .. tostring(e))
      return finish()
    end
    local function poll()
      local ok2, done = pcall(ready)
      if not ok2 then
        table.insert(results.errors, name .. ': ' .. tostring(done))
        return finish()
      end
      if done then return run(i + 1) end
      if vim.loop.now() > deadline then
        table.insert(results.errors, 'timed out in step "' .. name .. '"')
        return finish()
      end
      vim.defer_fn(poll, 20)
    end
    vim.defer_fn(poll, 20)
  end
  vim.api.nvim_create_autocmd('VimEnter', { callback = function() vim.defer_fn(function() run(1) end, 0) end })
end

return M
