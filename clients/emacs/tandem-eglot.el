;;; tandem-eglot.el --- tandem's commands for eglot users  -*- lexical-binding: t -*-

;; Optional.  eglot already lists tandem's code actions (`M-x eglot-code-actions') and gets its
;; completions through `completion-at-point'; this file adds the server's own commands, which
;; eglot has no menu for:
;;
;;   M-x tandem-explain   the region (else the current line) explained, in a Markdown buffer
;;   M-x tandem-edit      the region (else the whole file) changed by an instruction;
;;                        with C-u, scope "workspace" (the edit may span files)
;;   M-x tandem-compare   the region explained by two backends side by side; with C-u, ask
;;                        for an instruction and show each backend's proposed edit, unapplied
;;   M-x tandem-stats     requests, acceptances, latency and spend, as JSON
;;   M-x tandem-snooze    no completions for a number of minutes (30; C-u N for N); 0 resumes
;;
;; Load it after eglot: (with-eval-after-load 'eglot (load "/path/to/tandem/clients/emacs/tandem-eglot.el")).
;; Tested with eglot 1.9 (Debian 12) by test/clients/emacs.test.ts.

(require 'eglot)
(require 'json)

(defun tandem--bounds (whole-file)
  "The region's bounds, else the current line's (the whole file if WHOLE-FILE)."
  (cond ((use-region-p) (list (region-beginning) (region-end)))
        (whole-file (list (point-min) (point-min))) ; an empty range: the server edits the file
        (t (list (line-beginning-position) (line-end-position)))))

(defun tandem--target (beg end)
  "The {uri, range} argument of tandem's commands for BEG..END."
  (append (eglot--TextDocumentIdentifier)
          (list :range (list :start (eglot--pos-to-lsp-position beg)
                             :end (eglot--pos-to-lsp-position end)))))

(defun tandem--execute (command &rest args)
  "Run the server's COMMAND with ARGS through workspace/executeCommand; its result."
  (eglot-execute-command (eglot--current-server-or-lose) command (apply #'vector args)))

(defun tandem--show (markdown &optional name)
  "Show MARKDOWN in the buffer NAME (default *tandem*), in `markdown-mode' when installed."
  (with-current-buffer (get-buffer-create (or name "*tandem*"))
    (let ((inhibit-read-only t))
      (erase-buffer)
      (insert markdown)
      (goto-char (point-min))
      (if (fboundp 'markdown-mode) (markdown-mode) (text-mode))
      (view-mode 1))
    (display-buffer (current-buffer))
    (current-buffer)))

(defun tandem-explain (beg end)
  "Explain BEG..END (the region, else the current line) in a Markdown buffer."
  (interactive (tandem--bounds nil))
  ;; open: false, since this buffer shows the answer (a client with window/showDocument would
  ;; otherwise get it opened a second time).
  (let ((result (tandem--execute 'tandem.explain (append (tandem--target beg end) '(:open :json-false)))))
    (tandem--show (plist-get result :markdown) "*tandem explain*")))

(defun tandem-edit (beg end instruction &optional workspace)
  "Change BEG..END by INSTRUCTION; the server applies the edit (eglot may ask to confirm).
Without a region, the whole file.  With WORKSPACE (\\[universal-argument]), scope \"workspace\"."
  (interactive (append (tandem--bounds t)
                       (list (read-string (if current-prefix-arg "tandem edit (workspace): " "tandem edit: "))
                             current-prefix-arg)))
  (let ((result (tandem--execute 'tandem.edit (append (tandem--target beg end)
                                                      (list :instruction instruction
                                                            :scope (if workspace "workspace" "file"))))))
    (message "tandem: %s" (if (eq (plist-get result :applied) t) "edit applied" (format "edit not applied %S" result)))
    result))

(defun tandem-compare (beg end &optional instruction)
  "Compare two backends on BEG..END: explanations, or with INSTRUCTION (\\[universal-argument]) proposed edits."
  (interactive (append (tandem--bounds nil)
                       (list (and current-prefix-arg (read-string "tandem compare, instruction: ")))))
  (let ((result (tandem--execute 'tandem.compare (append (tandem--target beg end)
                                                         (and instruction (list :instruction instruction))))))
    (tandem--show (plist-get result :markdown) "*tandem compare*")))

(defun tandem-stats ()
  "Show the server's counters: requests, acceptances, latency, spend, status."
  (interactive)
  (let ((json-encoding-pretty-print t))
    (tandem--show (concat "# tandem stats\n\n```json\n" (json-encode (tandem--execute 'tandem.stats)) "\n```\n")
                  "*tandem stats*")))

(defun tandem-snooze (minutes)
  "No completions from tandem for MINUTES (30 unless given as a prefix argument); 0 resumes.
The server keeps the snooze; `tandem-stats' shows until when (status.snoozedUntil)."
  (interactive (list (if current-prefix-arg (prefix-numeric-value current-prefix-arg) 30)))
  (let* ((result (tandem--execute 'tandem.snooze minutes))
         (until (plist-get result :snoozedUntil)))
    (message "tandem: %s" (if (stringp until)
                              (format "completions snoozed until %s" (format-time-string "%H:%M" (time-add nil (* 60 minutes))))
                            "completions resumed"))
    result))

(provide 'tandem-eglot)
;;; tandem-eglot.el ends here
