// serve's defaults, apart from its code: `tandem-lsp --help` names them, and every other command
// starts without loading the HTTP server, the chat pipeline and their modules.
export const DEFAULT_PORT = 8770;
export const DEFAULT_HOST = '127.0.0.1';
/** The bearer token's file in tandem's state directory. */
export const TOKEN_FILE = 'serve.token';
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
