;;; lsp-mode-test.el --- lsp-mode with tandem beside another server, in batch mode  -*- lexical-binding: t -*-

;; Run by test/clients/emacs.test.ts: `emacs --batch -q -l lsp-mode-test.el` (-q: Debian's site
;; files put elpa-lsp-mode on the load path).  A Python buffer gets two servers as a user's
;; lsp-mode would start them: test/fake/langserver.js registered as the mode's own server (as
;; pyright is), and tandem through clients/emacs/lsp-tandem.el as an add-on.  It hovers (the
;; other server answers), completes through company (tandem answers, and the item's command
;; counts the acceptance), runs a code action of each server, tandem's Explain, M-x tandem-stats and
;; M-x tandem-snooze, and writes what it saw as JSON to $TANDEM_TEST_OUT.

(require 'lsp-mode)
;; lsp-mode's own completion front end (`lsp-completion-provider' :capf sets it up): company
;; selects the item and runs its exit function, which runs the item's command.
(require 'company)
(require 'python)
(require 'json)
(load (getenv "TANDEM_LSP_TANDEM") nil t)
(load (expand-file-name "driver.el" (file-name-directory load-file-name)) nil t)


(defun tandem-test-resolved-titles (server-id)
  "The titles of the code actions lsp-mode's trace shows sent to SERVER-ID for codeAction/resolve."
  (let (titles)
    (dolist (buffer (buffer-list) (nreverse titles))
      (when (string-prefix-p (format "*lsp-log: %s:" server-id) (buffer-name buffer))
        (with-current-buffer buffer
          (goto-char (point-min))
          (while (re-search-forward "Sending request 'codeAction/resolve[^\n]*\nParams: {\n *\"title\": \"\\([^\"]*\\)\"" nil t)
            (push (match-string 1) titles)))))))

(condition-case err
    (let ((file (getenv "TANDEM_TEST_FILE")))
      (tandem-test-record 'lspMode (locate-library "lsp-mode"))
      ;; tandem as an add-on beside the language's own server (the fake stands where pyright would).
      (tandem-test-lsp-mode-connect
       file '(fake-langserver tandem)
       `(:backends (:fim (:kind "vllm" :url ,(getenv "TANDEM_FAKE_URL"))
                    ;; Listens nowhere: the server's status turns degraded.
                    :dead (:kind "vllm" :url ,(getenv "TANDEM_DEAD_URL")))
         :routes (:inline ["fim"] :action ["fim"] :multiFile ["fim"])
         ;; A deadline only a stuck server reaches: the test is about the answers.
         :inline (:debounceMs 0 :deadlineMs 20000))
       ;; lsp-mode's trace of each server's messages: which server was asked what.
       'lsp-log-io t)
      (tandem-test-record 'servers (vconcat (tandem-test-server-ids)))
      ;; Hover on `add': the other server's answer.
      (goto-char (point-min))
      (search-forward "add")
      (let ((hover (lsp-request "textDocument/hover" (lsp--text-document-position-params))))
        (tandem-test-record 'hover (tandem--get hover :contents :value)))
      ;; "    re|": tandem completes it, through company as a user picks an item.
      (goto-char (point-min))
      (forward-line 1)
      (end-of-line)
      (tandem-test-record 'before (buffer-substring-no-properties (line-beginning-position) (line-end-position)))
      (tandem-test-record 'company (list :mode (and company-mode t) :backends (format "%S" company-backends)))
      (company-manual-begin)
      (tandem-test-record 'candidates (vconcat (mapcar #'substring-no-properties company-candidates)))
      (company-complete-selection)
      (tandem-test-record 'after (buffer-substring-no-properties (line-beginning-position) (line-end-position)))
      ;; The item's command counted the acceptance (an asynchronous request: ask until it is in).
      (tandem-test-wait "the acceptance to be counted"
                        (lambda () (equal (tandem--get (tandem--execute "tandem.stats") :accepted) 1)))
      ;; Code actions at `add': both servers' lists, merged.
      (goto-char (point-min))
      (search-forward "add")
      (let ((actions (lsp-code-actions-at-point)))
        (tandem-test-record 'actions (vconcat (mapcar (lambda (a) (list :title (tandem--get a :title) :kind (tandem--get a :kind))) actions)))
        ;; The other server's own action, through lsp-mode's executor: resolved and run there.
        (lsp-execute-code-action (seq-find (lambda (a) (equal (tandem--get a :kind) "source.organizeImports")) actions))
        ;; tandem's Simplify: resolved by tandem alone, its edit lands in the buffer.
        (lsp-execute-code-action (seq-find (lambda (a) (equal (tandem--get a :kind) "refactor.rewrite.tandem.simplify")) actions))
        (tandem-test-record 'afterAction (buffer-substring-no-properties (point-min) (point-max)))
        ;; tandem's Explain: its command runs in the client, the answer in a buffer.
        (lsp-execute-code-action (seq-find (lambda (a) (equal (tandem--get a :kind) "source.tandem.explain")) actions))
        (tandem-test-record 'explained (with-current-buffer "*tandem explain*" (buffer-string))))
      ;; M-x tandem-stats.
      (with-current-buffer (tandem-stats)
        (tandem-test-record 'statsText (buffer-substring-no-properties (point-min) (point-max))))
      (tandem-test-record 'stats (tandem--execute "tandem.stats"))
      (tandem-test-wait "the degraded status" (lambda () (equal (plist-get tandem-status :state) "degraded")))
      ;; M-x tandem-snooze, then C-u 0 M-x tandem-snooze (after the degraded notice: the snooze
      ;; changes the status message); the server's status says whether it holds the snooze.
      (tandem-test-record 'snoozed (tandem--get (tandem-snooze 30) :snoozedUntil))
      (tandem-test-record 'snoozedStatus (tandem--get (tandem--execute "tandem.stats") :status :snoozedUntil))
      (tandem-test-record 'resumed (tandem--get (tandem-snooze 0) :snoozedUntil))
      (tandem-test-record 'resumedStatus (tandem--get (tandem--execute "tandem.stats") :status :snoozedUntil))
      (tandem-test-record 'serversAtEnd (vconcat (tandem-test-server-ids)))
      (tandem-test-record 'tandemResolved (vconcat (tandem-test-resolved-titles "tandem")))
      (tandem-test-write-and-exit 0))
  (error
   (tandem-test-record 'error (error-message-string err))
   (tandem-test-write-and-exit 1)))

;;; lsp-mode-test.el ends here
