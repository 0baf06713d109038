;;; nextedit-test.el --- tandem's next edits in Emacs + eglot, in batch mode  -*- lexical-binding: t -*-

;; Run by test/clients/emacs-nextedit.test.ts: `emacs --batch -q -l nextedit-test.el` against the
;; built server and the fake vLLM serving a Zeta model, through eglot or lsp-mode.  Switches `tandem-next-edit-mode' on (its
;; first request), adds a parameter, waits for the preview, then presses the key the preview binds:
;; TAB ($TANDEM_NE_MODE "accept") or C-g ("dismiss"); writes what it saw to $TANDEM_TEST_OUT.

;; $TANDEM_NE_CLIENT: "eglot" (tandem-eglot.el) or "lsp-mode" (lsp-tandem.el, tandem alone).
(defconst tandem-test-client (getenv "TANDEM_NE_CLIENT"))
(if (equal tandem-test-client "lsp-mode") (require 'lsp-mode) (require 'eglot))
(require 'python)
(require 'project)
(require 'json)
(load (getenv "TANDEM_EMACS_CLIENT") nil t)
(load (expand-file-name "driver.el" (file-name-directory load-file-name)) nil t)

;; What the client sends through tandem.el, whichever LSP client carries it: every next-edit
;; request, every command and every didShowInlineEdit.
(defvar tandem-test-commands nil)
(defvar tandem-test-requests 0)
(defvar tandem-test-shows nil)

(defun tandem-test-spying-client ()
  "The buffer's client as `tandem-client-functions' gives it, recording what goes through it."
  (let ((client (let ((tandem-client-functions (remq #'tandem-test-spying-client tandem-client-functions)))
                  (run-hook-with-args-until-success 'tandem-client-functions))))
    (when client
      (let ((execute (plist-get client :execute))
            (request (plist-get client :request))
            (notify (plist-get client :notify)))
        (append
         (list :execute (lambda (command args)
                          (push (list :command command :arguments args) tandem-test-commands)
                          (funcall execute command args))
               :request (lambda (method params on-result on-error)
                          (when (equal method "textDocument/copilotInlineEdit") (setq tandem-test-requests (1+ tandem-test-requests)))
                          (funcall request method params on-result on-error))
               :notify (lambda (method params)
                         (when (equal method "textDocument/didShowInlineEdit") (push params tandem-test-shows))
                         (funcall notify method params)))
         client)))))
(add-hook 'tandem-client-functions #'tandem-test-spying-client)

(defun tandem-test-overlays ()
  "The preview's overlays: line and column of each end, face, after-string and its face."
  (vconcat
   (mapcar (lambda (ov)
             (let ((after (overlay-get ov 'after-string)))
               (list :startLine (1- (line-number-at-pos (overlay-start ov)))
                     :startCol (save-excursion (goto-char (overlay-start ov)) (current-column))
                     :endLine (1- (line-number-at-pos (overlay-end ov)))
                     :endCol (save-excursion (goto-char (overlay-end ov)) (current-column))
                     :face (or (overlay-get ov 'face) :json-false)
                     :after (or after :json-false)
                     :afterFace (if after (get-text-property 0 'face after) :json-false))))
           (seq-filter (lambda (ov) (overlay-get ov 'tandem-next-edit)) (overlays-in (point-min) (point-max))))))

(defun tandem-test-finish (code)
  (tandem-test-record 'commands (vconcat (reverse tandem-test-commands)))
  (tandem-test-record 'shows (vconcat (reverse tandem-test-shows)))
  (tandem-test-record 'requests tandem-test-requests)
  (tandem-test-write-and-exit code))

(condition-case err
    (let* ((file (getenv "TANDEM_TEST_FILE"))
           (url (getenv "TANDEM_FAKE_URL"))
           (mode (getenv "TANDEM_NE_MODE")))
      (let ((options `(:backends (:gpu (:kind "vllm" :url ,url))
                       :context (:enabled :json-false)
                       :inline (:debounceMs 0 :deadlineMs 20000))))
        (if (equal tandem-test-client "lsp-mode")
            (tandem-test-lsp-mode-connect file '(tandem) options 'lsp-completion-enable nil)
          (tandem-test-eglot-connect file options)))
      (tandem-test-record 'connected (and (run-hook-with-args-until-success 'tandem-client-functions) t))
      ;; On: the buffer's first request, answered with no edit (nothing was edited yet).
      (goto-char (point-min))
      (tandem-next-edit-mode 1)
      (tandem-test-wait "the first answer" (lambda () (and (= tandem-test-requests 1) (null tandem--next-edit-cancel))))
      (tandem-test-record 'shownAfterFirst (if tandem--next-edit t :json-false))
      ;; Add a parameter to `area'; the mode asks once the edit settles.
      (goto-char (point-min))
      (search-forward "def area(w, h")
      (insert ", d")
      (tandem-test-record 'pointBefore (point))
      (tandem-test-wait "the preview" (lambda () tandem--next-edit))
      (tandem-test-record 'requestsAtPreview tandem-test-requests)
      (tandem-test-record 'overlays (tandem-test-overlays))
      (tandem-test-record 'previewMode (if tandem-next-edit-preview-mode t :json-false))
      (let ((key (if (equal mode "accept") (kbd "TAB") (kbd "C-g"))))
        (tandem-test-record 'binding (symbol-name (key-binding key)))
        (setq this-command (key-binding key))
        (call-interactively (key-binding key)))
      (tandem-test-record 'text (buffer-substring-no-properties (point-min) (point-max)))
      (tandem-test-record 'point (list (1- (line-number-at-pos)) (current-column)))
      (tandem-test-record 'overlaysAfter (tandem-test-overlays))
      (tandem-test-record 'previewModeAfter (if tandem-next-edit-preview-mode t :json-false))
      (tandem-test-record 'stats (tandem--get (tandem--execute "tandem.stats") :nextEdit))
      (tandem-next-edit-mode -1)
      (if (equal tandem-test-client "lsp-mode") (lsp-workspace-shutdown (car (lsp-workspaces))) (eglot-shutdown (eglot-current-server)))
      (tandem-test-finish 0))
  (error
   (tandem-test-record 'error (error-message-string err))
   (tandem-test-finish 1)))

;;; nextedit-test.el ends here
