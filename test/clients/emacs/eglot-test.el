;;; eglot-test.el --- Emacs + eglot against tandem-lsp, in batch mode  -*- lexical-binding: t -*-

;; Run by test/clients/emacs.test.ts: `emacs --batch -q -l eglot-test.el` (-q, not -Q: Debian's
;; site files put the elpa-eglot package on the load path), with the fake vLLM's
;; URL, the server and the file to edit in the environment.  Connects eglot the way a user's
;; configuration would (eglot-server-programs + M-x eglot), completes with completion-at-point
;; (eglot declares no inline completion, so tandem offers textDocument/completion), and writes
;; what it saw as JSON to $TANDEM_TEST_OUT.  It then lists and runs code actions, explains,
;; shows the stats, and snoozes and resumes completions.
;;
;; With $TANDEM_TEST_DIR_LOCALS (a regexp of the server's message to wait for) the directory holds
;; a repository's .dir-locals.el: the run completes once the server has answered about it, records
;; what eglot hands the server for it, and ends there.

(require 'eglot)
(require 'python)
(require 'project)
(require 'json)
(load (getenv "TANDEM_EMACS_CLIENT") nil t)
(load (expand-file-name "driver.el" (file-name-directory load-file-name)) nil t)

;; Every window/showMessage the server sends, as (type . message).
(defvar tandem-test-shown nil)
(advice-add 'eglot-handle-notification :before
            (lambda (_server method &rest params)
              (when (eq method 'window/showMessage)
                (push (list :type (plist-get params :type) :message (plist-get params :message)) tandem-test-shown))))

(defun tandem-test-wait-shown (regexp)
  "Process the server's messages until it showed one matching REGEXP (or 20 s passed)."
  (let ((tries 0))
    (while (and (< tries 200)
                (not (seq-find (lambda (m) (string-match-p regexp (plist-get m :message))) tandem-test-shown)))
      (accept-process-output nil 0.1)
      (setq tries (1+ tries)))))

;; Every workspace/executeCommand eglot sends, with its arguments.
(defvar tandem-test-commands nil)
(advice-add 'eglot-execute-command :before
            (lambda (_server command arguments)
              (push (list :command (format "%s" command) :arguments arguments) tandem-test-commands)))

(defun tandem-test-finish (code)
  (tandem-test-record 'commands (vconcat (reverse tandem-test-commands)))
  (tandem-test-record 'shown (vconcat (reverse tandem-test-shown)))
  (tandem-test-write-and-exit code))

(condition-case err
    (let* ((file (getenv "TANDEM_TEST_FILE"))
           (dir (file-name-directory file))
           (url (getenv "TANDEM_FAKE_URL")))
      (tandem-test-record 'emacs emacs-version)
      (tandem-test-record 'eglot (locate-library "eglot"))
      (tandem-test-eglot-connect
       file
       `(:backends (:fim (:kind "vllm" :url ,url)
                    ;; With $TANDEM_DEAD_URL, a backend that listens nowhere: the status turns degraded.
                    ,@(when (getenv "TANDEM_DEAD_URL") `(:dead (:kind "vllm" :url ,(getenv "TANDEM_DEAD_URL")))))
         :routes (:inline ["fim"] :action ["fim"] :multiFile ["fim"])
         ;; A deadline only a stuck server reaches: the test is about the answer.
         :inline (:debounceMs 0 :deadlineMs 20000)))
      ;; The server pulls the `tandem' section after `initialized': with a repository's
      ;; .dir-locals.el, complete only once it has answered about it.
      (when (getenv "TANDEM_TEST_DIR_LOCALS")
        (tandem-test-wait-shown (getenv "TANDEM_TEST_DIR_LOCALS")))
      (let ((server (eglot-current-server)))
        (tandem-test-record 'connected (and server t))
        (tandem-test-record 'completionProvider (and (eglot--server-capable :completionProvider) t))
        (tandem-test-record 'serverName (plist-get (eglot--server-info server) :name)))
      ;; "    re|": the fake completes "re" to "return a + b".
      (goto-char (point-min))
      (forward-line 1)
      (end-of-line)
      (tandem-test-record 'before (buffer-substring (line-beginning-position) (line-end-position)))
      (completion-at-point)
      (tandem-test-record 'after (buffer-substring (line-beginning-position) (line-end-position)))
      (tandem-test-record 'point (- (point) (line-beginning-position)))
      ;; A repository's .dir-locals.el (TANDEM_TEST_DIR_LOCALS): what eglot answers for it, what
      ;; the server said about it; the rest of the session is the other test's.
      (when (getenv "TANDEM_TEST_DIR_LOCALS")
        (tandem-test-record 'enableLocalVariables enable-local-variables)
        (tandem-test-record 'workspaceConfiguration
                            (let ((default-directory dir))
                              (with-temp-buffer
                                (setq-local major-mode 'python-mode)
                                (hack-dir-local-variables-non-file-buffer)
                                (json-encode eglot-workspace-configuration))))
        (eglot-shutdown (eglot-current-server))
        (tandem-test-finish 0))
      ;; Code actions at point, inside `add': the list as eglot's own command gets it.
      (backward-char 3)
      (let ((actions (eglot-code-actions (point) (point))))
        (tandem-test-record 'codeActionProvider (and (eglot--server-capable :codeActionProvider) t))
        (tandem-test-record
         'actions
         (vconcat (mapcar (lambda (a)
                            (let ((cmd (plist-get a :command)))
                              (list :title (plist-get a :title) :kind (plist-get a :kind)
                                    :command (if (stringp cmd) cmd (plist-get cmd :command))
                                    :hasEdit (if (plist-get a :edit) t :json-false))))
                          actions))))
      ;; Run "Simplify" as M-x eglot-code-actions would after the user picked it: the server
      ;; resolves it through the fake's chat endpoint and sends workspace/applyEdit.
      (setq eglot-confirm-server-initiated-edits nil)
      (eglot-code-actions (point) (point) "refactor.rewrite.tandem.simplify" t)
      (tandem-test-record 'afterAction (buffer-substring-no-properties (point-min) (point-max)))
      ;; M-x tandem-explain on the function (clients/emacs/tandem.el).
      (let ((buf (tandem-explain (point-min) (point-max))))
        (tandem-test-record 'explainBuffer (buffer-name buf))
        (tandem-test-record 'explained (with-current-buffer buf (buffer-string))))
      ;; M-x tandem-stats: the counters laid out, the completion above counted as accepted.
      (with-current-buffer (tandem-stats)
        (tandem-test-record 'statsText (buffer-substring-no-properties (point-min) (point-max))))
      (tandem-test-record 'stats (tandem--execute "tandem.stats"))
      (when (getenv "TANDEM_DEAD_URL")
        (tandem-test-wait "the degraded status" (lambda () (equal (plist-get tandem-status :state) "degraded"))))
      ;; M-x tandem-snooze, then C-u 0 M-x tandem-snooze: after the stats and the degraded notice,
      ;; which the snooze's status message would change.
      (tandem-test-record 'snoozed (plist-get (tandem-snooze 30) :snoozedUntil))
      (tandem-test-record 'resumed (plist-get (tandem-snooze 0) :snoozedUntil))
      (eglot-shutdown (eglot-current-server))
      (tandem-test-finish 0))
  (error
   (tandem-test-record 'error (error-message-string err))
   (tandem-test-finish 1)))

;;; eglot-test.el ends here
