-- tandem's client configuration for Neovim 0.11+'s vim.lsp.config / vim.lsp.enable: Neovim reads
-- this file (lsp/tandem.lua on the runtimepath) when `vim.lsp.enable('tandem')` first needs it.
--
--   vim.lsp.config('tandem', { init_options = { backends = { fim = { kind = 'vllm', url = 'http://gpu-pool:8000' } } } })
--   vim.lsp.enable('tandem')
--
-- Fields given to vim.lsp.config('tandem', ...) override these. Ghost text, keys and commands start
-- on the first attach with require('tandem').config (its defaults unless setup() ran). Use this
-- or require('tandem').setup(), not both: setup() starts the server itself on every version.
return require('tandem').lsp_config()
