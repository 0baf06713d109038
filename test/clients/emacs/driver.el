;;; driver.el --- what the Emacs test drivers share  -*- lexical-binding: t -*-

;; Connecting eglot or lsp-mode to the built server ($TANDEM_SERVER run by $TANDEM_NODE) as a
;; user's configuration would, recording what a driver saw (tandem's messages in the echo area among
;; it), waiting for a condition, and handing the results to the test (test/clients/emacs*.test.ts)
;; as JSON in $TANDEM_TEST_OUT when Emacs exits.

(require 'json)

(defvar tandem-test-results nil
  "What the driver recorded: an alist written as a JSON object.")

(defun tandem-test-record (key value)
  "Record VALUE under KEY."
  (setq tandem-test-results (cons (cons key value) tandem-test-results)))

(defvar tandem-test-messages nil
  "Every message of tandem's client in the echo area, newest first.")
(advice-add 'message :before
            (lambda (format-string &rest args)
              (when (and (stringp format-string) (string-prefix-p "tandem: " format-string))
                (push (apply #'format format-string args) tandem-test-messages))))

(defun tandem-test-wait (what predicate)
  "Process output until PREDICATE holds; an error naming WHAT after 40 s (a stuck run)."
  (let ((tries 0))
    (while (not (funcall predicate))
      (when (> tries 400) (error "timed out waiting for %s" what))
      (accept-process-output nil 0.1)
      (setq tries (1+ tries)))))

(defun tandem-test-eglot-connect (file options)
  "Visit FILE and connect eglot to tandem with OPTIONS as its initializationOptions.
FILE's directory is the project, as a .git or project file would make it for a user, and
eglot starts the server from `eglot-server-programs' on M-x eglot."
  (let ((dir (file-name-directory file)))
    (add-hook 'project-find-functions (lambda (_) (cons 'transient dir)))
    (setq eglot-sync-connect t
          eglot-connect-timeout 45
          eglot-server-programs
          `((python-mode ,(getenv "TANDEM_NODE") ,(getenv "TANDEM_SERVER") "--stdio"
                         :initializationOptions ,options)))
    (find-file file)
    (call-interactively #'eglot)))

(defun tandem-test-lsp-mode-connect (file clients options &rest settings)
  "Visit FILE with lsp-mode and wait until the servers of CLIENTS have initialized.
CLIENTS are server ids: `tandem' (clients/emacs/lsp-tandem.el, with OPTIONS as its
initializationOptions) and `fake-langserver' (test/fake/langserver.js, standing where the
language's own server, pyright, would).  lsp-mode is set up as a batch session needs it: no
questions, no UI extras; SETTINGS, variables and values in turn, go over that."
  (let ((dir (file-name-directory file)))
    (when (memq 'fake-langserver clients)
      (lsp-register-client
       (make-lsp-client :new-connection (lsp-stdio-connection (list (getenv "TANDEM_NODE") (getenv "TANDEM_FAKE_LANGSERVER")))
                        :major-modes '(python-mode)
                        :server-id 'fake-langserver
                        :priority 1)))
    ;; The user's init file: where tandem's server is, and their model server.
    (setq lsp-tandem-server-command (list (getenv "TANDEM_NODE") (getenv "TANDEM_SERVER") "--stdio")
          lsp-tandem-initialization-options options)
    (setq lsp-enabled-clients clients
          lsp-session-file (expand-file-name ".lsp-session" dir)
          lsp-auto-guess-root nil
          lsp-keep-workspace-alive nil
          lsp-restart 'ignore
          lsp-enable-snippet nil
          lsp-diagnostics-provider :none
          lsp-modeline-code-actions-enable nil
          lsp-modeline-diagnostics-enable nil
          lsp-modeline-workspace-status-enable nil
          lsp-headerline-breadcrumb-enable nil
          lsp-lens-enable nil
          lsp-enable-file-watchers nil
          lsp-signature-auto-activate nil
          lsp-eldoc-enable-hover nil
          lsp-enable-symbol-highlighting nil
          lsp-response-timeout 40)
    (while settings (set (pop settings) (pop settings)))
    (lsp-workspace-folders-add dir)
    (find-file file)
    (lsp)
    (tandem-test-wait (format "%s to initialize" (mapconcat #'symbol-name clients " and "))
                      (lambda () (and (= (length (lsp-workspaces)) (length clients))
                                      (seq-every-p (lambda (w) (eq (lsp--workspace-status w) 'initialized)) (lsp-workspaces)))))))

(defun tandem-test-server-ids ()
  "The server ids of lsp-mode's workspaces, sorted, as strings."
  (sort (mapcar (lambda (w) (symbol-name (lsp--client-server-id (lsp--workspace-client w)))) (lsp-workspaces)) #'string<))

(defun tandem-test-write-and-exit (code)
  "Write the recorded results (the messages too) to $TANDEM_TEST_OUT and exit Emacs with CODE."
  (tandem-test-record 'messages (vconcat (reverse tandem-test-messages)))
  (with-temp-file (getenv "TANDEM_TEST_OUT")
    (insert (json-encode tandem-test-results)))
  (kill-emacs code))

(provide 'tandem-test-driver)
;;; driver.el ends here
