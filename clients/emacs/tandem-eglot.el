;;; tandem-eglot.el --- tandem with eglot, for buffers where tandem is the only server  -*- lexical-binding: t -*-

;; Optional.  eglot already lists tandem's code actions (`M-x eglot-code-actions') and gets its
;; completions through `completion-at-point'.  This file adds what eglot lacks for tandem:
;;
;; - the server's commands (`tandem.el'): M-x tandem-explain, tandem-edit, tandem-compare,
;;   tandem-stats, tandem-snooze, M-x tandem-chat (streamed through `$/progress'), and
;;   M-x tandem-next-edit / `tandem-next-edit-mode' (next edits previewed with overlays);
;; - acceptance counting: eglot 1.9 (Debian 12) does not run a completion item's command, so
;;   completing tandem's item sends its `tandem.accepted' here (not twice where eglot does it);
;; - the `tandem/status' notice (`tandem-notify-status').
;;
;; eglot runs one server per buffer: where tandem runs, pyright or gopls do not.  To run tandem
;; beside them, use lsp-mode and `lsp-tandem.el' instead.
;;
;; Load it after eglot: (with-eval-after-load 'eglot (load "/path/to/tandem/clients/emacs/tandem-eglot.el")).
;; Tested with eglot 1.9 (Debian 12) by test/clients/emacs.test.ts.

(require 'eglot)
(require 'tandem (expand-file-name "tandem" (file-name-directory (or load-file-name (bound-and-true-p byte-compile-current-file) buffer-file-name))))

(defun tandem-eglot--server ()
  "The eglot server of the current buffer when it is tandem."
  (when-let ((server (eglot-current-server)))
    (when (equal (plist-get (eglot--server-info server) :name) "tandem") server)))

(defun tandem-eglot--client ()
  "How this buffer reaches tandem through eglot (see `tandem-client-functions')."
  (when-let ((server (tandem-eglot--server)))
    (list :execute (lambda (command args) (eglot-execute-command server command args))
          :uri (plist-get (eglot--TextDocumentIdentifier) :uri)
          :position #'eglot--pos-to-lsp-position
          :request (lambda (method params on-result on-error)
                     ;; No timeout: a chat's answer may take minutes; C-c C-k stops it.
                     (jsonrpc-async-request server (intern (concat ":" method)) params
                                            :success-fn on-result :error-fn on-error :timeout nil)
                     ;; The id jsonrpc just gave the request (it returns none itself); without
                     ;; it, a stop only stops showing the answer.
                     (let ((id (and (fboundp 'jsonrpc--next-request-id) (jsonrpc--next-request-id server))))
                       (lambda () (when id (jsonrpc-notify server :$/cancelRequest (list :id id))))))
          :root (project-root (eglot--project server))
          :version (lambda () (eglot--signal-textDocument/didChange) eglot--versioned-identifier)
          :notify (lambda (method params) (jsonrpc-notify server (intern (concat ":" method)) params)))))

(add-hook 'tandem-client-functions #'tandem-eglot--client)

(cl-defmethod eglot-handle-notification (_server (_method (eql tandem/status)) &rest params)
  "Keep the server's status; say when it turns degraded or offline."
  (tandem--status-changed params))

;; M-x tandem-chat's answers stream as partial results ($/progress with the request's token).
;; :before, so eglot's own handler (newer eglot shows work-done progress) still runs.
(cl-defmethod eglot-handle-notification :before (_server (_method (eql $/progress)) &key token value &allow-other-keys)
  "Hand a chat's streamed piece to `tandem--progress'."
  (tandem--progress token value))

;;; Acceptance: the completion item's command.

(defvar tandem-eglot--accept-sent nil
  "Non-nil once eglot itself sent `tandem.accepted' while a completion was being inserted.")

(defun tandem-eglot--note-command (_server command &rest _)
  "Note that eglot runs COMMAND itself, when it is `tandem.accepted'."
  (when (equal (format "%s" (if (listp command) (plist-get command :command) command)) "tandem.accepted")
    (setq tandem-eglot--accept-sent t)))

(advice-add 'eglot-execute-command :before #'tandem-eglot--note-command)
;; Newer eglot runs a completion item's command through `eglot-execute'.
(when (fboundp 'eglot-execute) (advice-add 'eglot-execute :before #'tandem-eglot--note-command))

(defun tandem-eglot--counting-exit (exit collection server)
  "EXIT (eglot's completion exit function), then the item's `tandem.accepted' unless EXIT sent it.
COLLECTION finds the item when the inserted string lost its properties; SERVER runs the command."
  (lambda (proxy status)
    (let ((tandem-eglot--accept-sent nil))
      (funcall exit proxy status)
      (when (and (memq status '(finished exact)) (not tandem-eglot--accept-sent))
        (let* ((item (or (get-text-property 0 'eglot--lsp-item proxy)
                         (get-text-property 0 'eglot--lsp-item
                                            (seq-find (lambda (p) (string= p proxy)) (all-completions "" collection)))))
               (command (plist-get item :command)))
          (when (equal (plist-get command :command) "tandem.accepted")
            (eglot-execute-command server "tandem.accepted" (plist-get command :arguments))))))))

(defun tandem-eglot--count-acceptances (capf)
  "CAPF (what `eglot-completion-at-point' returned) with an exit function that counts acceptances."
  (let ((server (tandem-eglot--server)))
    (if (not (and server (consp capf) (plist-get (nthcdr 3 capf) :exit-function)))
        capf
      (let ((props (copy-sequence (nthcdr 3 capf))))
        (append (list (nth 0 capf) (nth 1 capf) (nth 2 capf))
                (plist-put props :exit-function
                           (tandem-eglot--counting-exit (plist-get props :exit-function) (nth 2 capf) server)))))))

(advice-add 'eglot-completion-at-point :filter-return #'tandem-eglot--count-acceptances)

(provide 'tandem-eglot)
;;; tandem-eglot.el ends here
