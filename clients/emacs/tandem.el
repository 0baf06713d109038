;;; tandem.el --- tandem's commands and views, for eglot and lsp-mode  -*- lexical-binding: t -*-

;; The part of tandem's Emacs client that does not depend on the LSP client: the server's commands,
;; the stats view, and the status notice.  `tandem-eglot.el' (eglot, tandem alone in a buffer)
;; and `lsp-tandem.el' (lsp-mode, tandem beside pyright, gopls, ...) load it and say how to reach
;; the server from a buffer (`tandem-client-functions').
;;
;;   M-x tandem-explain   the region (else the current line) explained, in a Markdown buffer
;;   M-x tandem-edit      the region (else the whole file) changed by an instruction;
;;                        with C-u, scope "workspace" (the edit may span files)
;;   M-x tandem-compare   the region explained by two backends side by side; with C-u, ask
;;                        for an instruction and show each backend's proposed edit, unapplied
;;   M-x tandem-stats     requests, acceptances, latency per backend, spend and status
;;   M-x tandem-snooze    no completions for a number of minutes (30; C-u N for N); 0 resumes

(require 'iso8601)
(require 'seq)
(require 'subr-x)

(defgroup tandem nil
  "tandem, the AI completion and code-action server."
  :group 'tools
  :prefix "tandem-")

(defcustom tandem-notify-status t
  "Non-nil: say in the echo area when the server's status turns degraded or offline.
Once per change of state (the server repeats a state when its message changes), and once
when it is ok again."
  :type 'boolean)

(defvar tandem-client-functions nil
  "Functions that say how the current buffer reaches a tandem server, or return nil.
The first non-nil answer wins.  It is a plist:
  :execute  (lambda (COMMAND ARGS)) running the server's COMMAND (a string) with ARGS (a
            vector) through workspace/executeCommand and returning its result
  :uri      the buffer's document URI
  :position (lambda (POS)) the LSP position of POS")

(defvar tandem-status nil
  "The last `tandem/status' the server sent: a plist (:state :message).")

(defun tandem--get (object &rest keys)
  "The value at KEYS (keywords) in OBJECT, a JSON object as a plist or a hash table.
eglot reads JSON into plists; lsp-mode, unless built with `lsp-use-plists', into hash tables."
  (let ((value object))
    (dolist (key keys value)
      (setq value (cond ((hash-table-p value) (gethash (substring (symbol-name key) 1) value))
                        ((and (listp value) (keywordp (car-safe value))) (plist-get value key))
                        (t nil))))))

(defun tandem--entries (object)
  "The (NAME . VALUE) pairs of OBJECT, a JSON object as a plist or a hash table, NAME a string."
  (cond ((hash-table-p object)
         (let (out) (maphash (lambda (k v) (push (cons (format "%s" k) v) out)) object) (nreverse out)))
        ((listp object)
         (let (out)
           (while object
             (push (cons (substring (symbol-name (car object)) 1) (cadr object)) out)
             (setq object (cddr object)))
           (nreverse out)))))

(defun tandem--client ()
  "How the current buffer reaches tandem (see `tandem-client-functions'), or an error."
  (or (run-hook-with-args-until-success 'tandem-client-functions)
      (user-error "tandem: no tandem server serves this buffer (M-x eglot, or M-x lsp with lsp-tandem)")))

(defun tandem--execute (command &rest args)
  "Run the server's COMMAND with ARGS through workspace/executeCommand; its result."
  (funcall (plist-get (tandem--client) :execute) command (apply #'vector args)))

(defun tandem--bounds (whole-file)
  "The region's bounds, else the current line's (the whole file if WHOLE-FILE)."
  (cond ((use-region-p) (list (region-beginning) (region-end)))
        (whole-file (list (point-min) (point-min))) ; an empty range: the server edits the file
        (t (list (line-beginning-position) (line-end-position)))))

(defun tandem--target (beg end)
  "The {uri, range} argument of tandem's commands for BEG..END."
  (let* ((client (tandem--client))
         (position (plist-get client :position)))
    (list :uri (plist-get client :uri)
          :range (list :start (funcall position beg) :end (funcall position end)))))

(defun tandem--show (markdown &optional name)
  "Show MARKDOWN in the buffer NAME (default *tandem*), in `markdown-mode' when installed."
  (tandem--show-text markdown name (if (fboundp 'markdown-mode) #'markdown-mode #'text-mode)))

(defun tandem--show-text (text name mode)
  "Show TEXT read-only in the buffer NAME, with major MODE; the buffer."
  (with-current-buffer (get-buffer-create (or name "*tandem*"))
    (let ((inhibit-read-only t))
      (erase-buffer)
      (insert text)
      (goto-char (point-min))
      (funcall mode)
      (view-mode 1))
    (display-buffer (current-buffer))
    (current-buffer)))

(defun tandem-explain (beg end)
  "Explain BEG..END (the region, else the current line) in a Markdown buffer."
  (interactive (tandem--bounds nil))
  ;; open: false, since this buffer shows the answer (a client with window/showDocument would
  ;; otherwise get it opened a second time).
  (let ((result (tandem--execute "tandem.explain" (append (tandem--target beg end) '(:open :json-false)))))
    (tandem--show (tandem--get result :markdown) "*tandem explain*")))

(defun tandem-edit (beg end instruction &optional workspace)
  "Change BEG..END by INSTRUCTION; the server applies the edit (the client may ask to confirm).
Without a region, the whole file.  With WORKSPACE (\\[universal-argument]), scope \"workspace\"."
  (interactive (append (tandem--bounds t)
                       (list (read-string (if current-prefix-arg "tandem edit (workspace): " "tandem edit: "))
                             current-prefix-arg)))
  (let ((result (tandem--execute "tandem.edit" (append (tandem--target beg end)
                                                       (list :instruction instruction
                                                             :scope (if workspace "workspace" "file"))))))
    (message "tandem: %s" (if (eq (tandem--get result :applied) t) "edit applied" (format "edit not applied %S" result)))
    result))

(defun tandem-compare (beg end &optional instruction)
  "Compare two backends on BEG..END: explanations, or with INSTRUCTION (\\[universal-argument]) proposed edits."
  (interactive (append (tandem--bounds nil)
                       (list (and current-prefix-arg (read-string "tandem compare, instruction: ")))))
  (let ((result (tandem--execute "tandem.compare" (append (tandem--target beg end)
                                                          (and instruction (list :instruction instruction))))))
    (tandem--show (tandem--get result :markdown) "*tandem compare*")))

(defun tandem--number (value)
  "VALUE when a number, else 0."
  (if (numberp value) value 0))

(defun tandem--columns (rows)
  "ROWS (lists of strings) as lines whose columns line up: the first left-aligned, the rest right."
  (let ((widths (apply #'seq-mapn (lambda (&rest cells) (apply #'max (mapcar #'string-width cells))) rows)))
    (mapconcat (lambda (row)
                 (string-trim-right
                  (mapconcat #'identity
                             (seq-mapn (lambda (cell width index)
                                         (let ((pad (make-string (- width (string-width cell)) ?\s)))
                                           (if (= index 0) (concat cell pad) (concat pad cell))))
                                       row widths (number-sequence 0 (1- (length row))))
                             "  ")))
               rows "\n")))

(defun tandem-format-stats (stats)
  "The text `tandem-stats' shows for STATS, the answer of the server's `tandem.stats'."
  (let* ((by-backend (tandem--get stats :byBackend))
         (latency (tandem--get stats :latency))
         (names (sort (seq-uniq (append (mapcar #'car (tandem--entries by-backend))
                                        (mapcar #'car (tandem--entries latency))))
                      #'string<))
         (ms (lambda (v) (if (numberp v) (number-to-string v) "-")))
         (spend (tandem--get stats :spend))
         (status (tandem--get stats :status)))
    (concat
     (propertize "tandem stats" 'face 'bold) "\n"
     (format "requests %d, shown %d (from cache %d), accepted %d, partly accepted %d\n"
             (tandem--number (tandem--get stats :requests)) (tandem--number (tandem--get stats :shown))
             (tandem--number (tandem--get stats :cacheHits)) (tandem--number (tandem--get stats :accepted))
             (tandem--number (tandem--get stats :partiallyAccepted)))
     (let ((expired (tandem--number (tandem--get stats :deadlineExpired))))
       (if (> expired 0) (format "%d requests reached their deadline with nothing to show\n" expired) ""))
     (if names
         (concat "\n"
                 (tandem--columns
                  (cons '("backend" "shown" "accepted" "partly" "p50 ms" "p95 ms")
                        (mapcar (lambda (name)
                                  (let ((b (tandem--get by-backend (intern (concat ":" name))))
                                        (l (tandem--get latency (intern (concat ":" name)))))
                                    (list name
                                          (number-to-string (tandem--number (tandem--get b :shown)))
                                          (number-to-string (tandem--number (tandem--get b :accepted)))
                                          (number-to-string (tandem--number (tandem--get b :partiallyAccepted)))
                                          (funcall ms (tandem--get l :p50)) (funcall ms (tandem--get l :p95)))))
                                names)))
                 "\n")
       "")
     "\n"
     (if spend (format "cloud spend %s: $%.4f\n" (or (tandem--get spend :day) "today") (tandem--number (tandem--get spend :usd))) "")
     (if status
         (let ((message (tandem--get status :message)))
           (format "status: %s%s\n" (tandem--get status :state)
                   (if (and (stringp message) (not (string-empty-p message))) (concat " - " message) "")))
       ""))))

(defun tandem-stats ()
  "Show the server's counters: requests, acceptances, latency per backend, spend, status."
  (interactive)
  (tandem--show-text (tandem-format-stats (tandem--execute "tandem.stats")) "*tandem stats*" #'special-mode))

(defun tandem-snooze (minutes)
  "No completions from tandem for MINUTES (30 unless given as a prefix argument); 0 resumes.
The server keeps the snooze, for every buffer it serves, and answers completion requests empty
meanwhile; `tandem-stats' shows until when."
  (interactive (list (if current-prefix-arg (prefix-numeric-value current-prefix-arg) 30)))
  (let* ((result (tandem--execute "tandem.snooze" minutes))
         (until (tandem--get result :snoozedUntil)))
    ;; The server's until-time (ISO 8601, UTC), said in local time.
    (message "tandem: %s" (if (stringp until)
                              (format "completions snoozed until %s" (format-time-string "%H:%M" (encode-time (iso8601-parse until))))
                            "completions resumed"))
    result))

(defun tandem--status-changed (params)
  "Keep PARAMS, a `tandem/status' notification; say once when its state turns bad or ok again."
  (let ((before (plist-get tandem-status :state))
        (state (tandem--get params :state))
        (message (or (tandem--get params :message) "")))
    (setq tandem-status (list :state state :message message))
    (when (and tandem-notify-status (not (equal state before)))
      (cond ((member state '("degraded" "offline"))
             (message "tandem: %s: %s" state message))
            ((and (equal state "ok") (member before '("degraded" "offline")))
             (message "tandem: ok again: %s" message))))))

(provide 'tandem)
;;; tandem.el ends here
