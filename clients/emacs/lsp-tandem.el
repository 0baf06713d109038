;;; lsp-tandem.el --- tandem beside your language's own server, through lsp-mode  -*- lexical-binding: t -*-

;; Registers tandem with lsp-mode as an add-on server: in a Python buffer, pyright (or whichever
;; server lsp-mode picks for the mode) and tandem both run, each for what it does.  eglot runs
;; one server per buffer; use `tandem-eglot.el' there only where tandem is to be alone.
;;
;; In your init file:
;;
;;   (with-eval-after-load 'lsp-mode
;;     (load "/path/to/tandem/clients/emacs/lsp-tandem.el")
;;     (setq lsp-tandem-initialization-options
;;           '(:backends (:fim (:kind "vllm" :url "http://gpu-pool:8000")))))
;;
;; then M-x lsp (or `lsp-deferred' in your mode hooks) as usual.  What you get:
;;
;; - tandem's completion as one item of `completion-at-point' (lsp-mode 8 has no inline
;;   completion); completing it runs the item's `tandem.accepted' command on tandem only;
;; - tandem's code actions among the others (M-x lsp-execute-code-action): a tandem action is
;;   resolved and run by tandem alone, never sent to the other server; Explain opens its answer
;;   in a buffer;
;; - M-x tandem-explain, tandem-edit, tandem-compare, tandem-stats, tandem-snooze, and
;;   M-x tandem-chat (its answer streamed through `$/progress'), M-x tandem-next-edit and
;;   `tandem-next-edit-mode' (next edits previewed with overlays) (`tandem.el');
;; - a message when tandem's status turns degraded or offline (`tandem-notify-status').
;;
;; Tested with lsp-mode 8.0.0 (Debian 12's elpa-lsp-mode) by test/clients/emacs.test.ts.

(require 'lsp-mode)
(require 'tandem (expand-file-name "tandem" (file-name-directory (or load-file-name (bound-and-true-p byte-compile-current-file) buffer-file-name))))

(defgroup lsp-tandem nil
  "tandem as an lsp-mode add-on server."
  :group 'lsp-mode
  :prefix "lsp-tandem-")

(defcustom lsp-tandem-server-command '("tandem-lsp" "--stdio")
  "The command that starts tandem's server."
  :type '(repeat string))

(defcustom lsp-tandem-initialization-options nil
  "tandem's settings from your own configuration, sent as initializationOptions.
The server takes them as yours: where code goes (backends, routes, privacy, audit, budget) is
decided here or in ~/.config/tandem/config.json.  A plist with the keys of
server/tandem.schema.json, e.g. (:backends (:fim (:kind \"vllm\" :url \"http://gpu-pool:8000\"))).
Not marked safe as a file-local variable: a .dir-locals.el that sets it is asked about."
  :type 'sexp)

(defcustom lsp-tandem-modes '(prog-mode)
  "Major modes where tandem runs, with the modes derived from them."
  :type '(repeat symbol))

(defun lsp-tandem--workspace ()
  "The tandem workspace serving the current buffer, if any."
  (seq-find (lambda (workspace) (eq (lsp--client-server-id (lsp--workspace-client workspace)) 'tandem))
            lsp--buffer-workspaces))

(defun lsp-tandem--client ()
  "How this buffer reaches tandem through lsp-mode (see `tandem-client-functions')."
  (when-let ((workspace (and (bound-and-true-p lsp-mode) (lsp-tandem--workspace))))
    (list :execute (lambda (command args)
                     ;; Only tandem: another server that declares executeCommand would be asked too.
                     (with-lsp-workspace workspace
                       (lsp-request "workspace/executeCommand" (list :command command :arguments args))))
          :uri (lsp--buffer-uri)
          :position #'lsp--point-to-position
          :request (lambda (method params on-result on-error)
                     (let ((cancel-token (make-symbol "tandem-request")))
                       ;; Only tandem; `detached': the answer goes to the chat whichever buffer is current.
                       (with-lsp-workspace workspace
                         (lsp-request-async method params on-result :error-handler on-error
                                            :mode 'detached :cancel-token cancel-token))
                       (lambda () (lsp-cancel-request-by-token cancel-token))))
          :root (lsp--workspace-root workspace)
          ;; lsp-mode sends incremental changes as they happen: its version is the server's.
          :version (lambda () lsp--cur-version)
          :notify (lambda (method params) (with-lsp-workspace workspace (lsp-notify method params))))))

(add-hook 'tandem-client-functions #'lsp-tandem--client)

(defun lsp-tandem--accepted (command)
  "Send COMMAND, a completion item's `tandem.accepted', to tandem: the acceptance is counted."
  (when-let ((workspace (lsp-tandem--workspace)))
    (with-lsp-workspace workspace
      (lsp-request-async "workspace/executeCommand"
                         (list :command "tandem.accepted" :arguments (tandem--get command :arguments))
                         #'ignore))))

(defun lsp-tandem--explain (command)
  "Run COMMAND, the Explain code action's `tandem.explain', and show the answer in a buffer."
  (let* ((target (seq-first (tandem--get command :arguments)))
         (arg (list :uri (tandem--get target :uri) :range (tandem--get target :range) :open :json-false)))
    (tandem--show (tandem--get (tandem--execute "tandem.explain" arg) :markdown) "*tandem explain*")))

(defun lsp-tandem--own-action-p (action)
  "Non-nil when ACTION is one of tandem's code actions (its kind names tandem)."
  (let ((kind (and action (tandem--get action :kind))))
    (and (stringp kind) (string-match-p "\\.tandem\\(?:\\.\\|\\'\\)" kind))))

(defun lsp-tandem--execute-code-action (execute action)
  "EXECUTE (`lsp-execute-code-action') ACTION on its own server: tandem's with tandem alone,
another server's without tandem.  lsp-mode sends codeAction/resolve (and a command without a
handler) to every server that declares it, so each server would be asked about the other's
action and answer an error."
  (let ((tandem (lsp-tandem--workspace)))
    (cond ((not tandem) (funcall execute action))
          ((lsp-tandem--own-action-p action) (with-lsp-workspace tandem (funcall execute action)))
          (t (with-lsp-workspaces (remq tandem lsp--buffer-workspaces) (funcall execute action))))))

(advice-add 'lsp-execute-code-action :around #'lsp-tandem--execute-code-action)

(defun lsp-tandem--activate-p (_file-name _mode)
  "Whether tandem runs in the current buffer: one with a file, in `lsp-tandem-modes'."
  (and buffer-file-name (apply #'derived-mode-p lsp-tandem-modes)))

(lsp-register-client
 (make-lsp-client
  :new-connection (lsp-stdio-connection (lambda () lsp-tandem-server-command))
  :activation-fn #'lsp-tandem--activate-p
  :server-id 'tandem
  ;; Started beside the mode's own server, never instead of it.
  :add-on? t
  :priority -1
  :initialization-options (lambda () lsp-tandem-initialization-options)
  :notification-handlers (ht ("tandem/status" (lambda (_workspace params) (tandem--status-changed params)))
                             ;; M-x tandem-chat's streamed pieces; other progress as lsp-mode shows it.
                             ("$/progress" (lambda (workspace params)
                                             (unless (tandem--progress (tandem--get params :token) (tandem--get params :value))
                                               (funcall lsp-progress-function workspace params)))))
  :action-handlers (ht ("tandem.accepted" #'lsp-tandem--accepted)
                       ("tandem.explain" #'lsp-tandem--explain))))

(provide 'lsp-tandem)
;;; lsp-tandem.el ends here
