;;; chat-test.el --- M-x tandem-chat through eglot or lsp-mode, in batch mode  -*- lexical-binding: t -*-

;; Run by test/clients/emacs-chat.test.ts: `emacs --batch -q -l chat-test.el` with
;; $TANDEM_TEST_CLIENT "eglot" (tandem alone, clients/emacs/tandem-eglot.el) or "lsp-mode"
;; (tandem beside test/fake/langserver.js, clients/emacs/lsp-tandem.el).  It asks about the region,
;; waits for the streamed answer (writing $TANDEM_TEST_SEEN once the chat buffer shows the first
;; piece: the fake holds the rest until then), asks a follow-up with a #file: reference, then
;; stops a slow answer, and writes what it saw as JSON to $TANDEM_TEST_OUT.

(require 'python)
(require 'json)
(load (expand-file-name "driver.el" (file-name-directory load-file-name)) nil t)

(defvar tandem-test-client (getenv "TANDEM_TEST_CLIENT"))
(defvar tandem-test-sent nil "The params of every tandem/chat request, newest first.")
(defvar tandem-test-done 0 "Answers ended so far.")
(add-hook 'tandem-chat-done-hook (lambda () (setq tandem-test-done (1+ tandem-test-done))))

(defun tandem-test-backends ()
  `(:backends (:gpu (:kind "vllm" :url ,(getenv "TANDEM_FAKE_URL")))
    :inline (:enabled :json-false)))

(defun tandem-test-chat-text ()
  (with-current-buffer "*tandem chat*" (buffer-substring-no-properties (point-min) (point-max))))

(defun tandem-test-connect (file)
  "Start the client named by $TANDEM_TEST_CLIENT for FILE; the list of servers serving it."
  (if (equal tandem-test-client "eglot")
      (progn
        (require 'eglot)
        (require 'project)
        (load (expand-file-name "clients/emacs/tandem-eglot.el" (getenv "TANDEM_ROOT")) nil t)
        (advice-add 'jsonrpc-async-request :before
                    (lambda (_conn method params &rest _)
                      (when (eq method :tandem/chat) (push params tandem-test-sent))))
        (tandem-test-eglot-connect file (tandem-test-backends))
        (list "tandem"))
    (require 'lsp-mode)
    (load (expand-file-name "clients/emacs/lsp-tandem.el" (getenv "TANDEM_ROOT")) nil t)
    (advice-add 'lsp-request-async :before
                (lambda (method params &rest _)
                  (when (equal method "tandem/chat") (push params tandem-test-sent))))
    (tandem-test-lsp-mode-connect file '(fake-langserver tandem) (tandem-test-backends))
    (tandem-test-server-ids)))

(condition-case err
    (let* ((file (getenv "TANDEM_TEST_FILE"))
           (seen (getenv "TANDEM_TEST_SEEN")))
      (tandem-test-record 'servers (vconcat (tandem-test-connect file)))
      ;; The region: lines 2 and 3 of calc.py, as a user marks them.
      (with-current-buffer (find-file-noselect file)
        (goto-char (point-min))
        (forward-line 1)
        (push-mark (point) t t)
        (forward-line 1)
        (end-of-line)
        (tandem-chat "What does this do?" (region-beginning) (region-end)))
      (tandem-test-wait "the first answer"
                        (lambda ()
                          (when (and (not (file-exists-p seen)) (string-match-p "It adds" (tandem-test-chat-text)))
                            (tandem-test-record 'firstPiece (tandem-test-chat-text))
                            (write-region "seen" nil seen))
                          (>= tandem-test-done 1)))
      (tandem-test-record 'afterFirst (tandem-test-chat-text))
      (tandem-test-record 'chatMode (with-current-buffer "*tandem chat*" (symbol-name major-mode)))
      ;; The follow-up, asked from the chat buffer (C-c C-c there runs the same command).
      (with-current-buffer "*tandem chat*" (tandem-chat "And what does #file:util.py add?"))
      (tandem-test-wait "the second answer" (lambda () (>= tandem-test-done 2)))
      (tandem-test-record 'afterSecond (tandem-test-chat-text))
      (with-current-buffer "*tandem chat*" (tandem-chat "take your time"))
      (tandem-test-wait "the slow answer's first piece" (lambda () (string-match-p "Thinking" (tandem-test-chat-text))))
      (tandem-chat-stop)
      (tandem-test-wait "the slow answer to end" (lambda () (>= tandem-test-done 3)))
      (tandem-test-wait "the fake to see the slow request's connection closed"
                        (lambda () (file-exists-p (getenv "TANDEM_TEST_CLOSED"))))
      (tandem-test-record 'afterStop (tandem-test-chat-text))
      (tandem-test-record 'conversation (with-current-buffer "*tandem chat*" (vconcat tandem-chat--messages)))
      (tandem-test-record 'sent (vconcat (reverse tandem-test-sent)))
      (tandem-test-write-and-exit 0))
  (error
   (tandem-test-record 'error (error-message-string err))
   (tandem-test-record 'sent (vconcat (reverse tandem-test-sent)))
   (ignore-errors (tandem-test-record 'chatText (tandem-test-chat-text)))
   (tandem-test-write-and-exit 1)))

;;; chat-test.el ends here
