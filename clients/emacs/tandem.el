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
;;   M-x tandem-chat      a chat buffer (*tandem chat*): the prompt's answer streamed into it, the
;;                        region (and any #file:path in the prompt) sent as references; again
;;                        for a follow-up, C-u for a new conversation; C-c C-k stops the answer
;;   M-x tandem-next-edit the edit you will make next (anywhere near point), previewed in the
;;                        buffer: TAB applies it, C-g (or typing, or moving away) dismisses it;
;;                        `tandem-next-edit-mode' asks by itself when an edit settles

(require 'iso8601)
(require 'seq)
(require 'subr-x)
(require 'url-util)

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
  :position (lambda (POS)) the LSP position of POS
  :request  (lambda (METHOD PARAMS ON-RESULT ON-ERROR)) sending the request METHOD (a string)
            asynchronously, calling ON-RESULT with its result or ON-ERROR with its error (a
            JSON object with :code and :message); returns a function that cancels it
            (`$/cancelRequest'), after which neither is called
  :root     the workspace root directory
  :version  (lambda ()) the document version the server has, after sending it any change not
            sent yet
  :notify   (lambda (METHOD PARAMS)) sending the notification METHOD (a string)
The client also hands every `$/progress' notification to `tandem--progress' first.")

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

;;; Chat: M-x tandem-chat, a Markdown buffer on the server's tandem/chat request.

(defvar tandem-chat-model nil
  "The model of M-x tandem-chat: nil (the server's tandem/auto, the chat route) or \"tandem/<backend>\".")

(defvar tandem--streams (make-hash-table :test #'equal)
  "partialResultToken -> function of a `$/progress' value: the answers being streamed.")

(defvar tandem--chat-requests 0
  "Chat requests sent so far (they number the progress tokens).")

(defun tandem--progress (token value)
  "Hand VALUE to the chat streaming under TOKEN; non-nil when TOKEN is a chat's."
  (when-let ((f (gethash token tandem--streams)))
    (funcall f value)
    t))

(defvar tandem-chat-done-hook nil
  "Run in the chat buffer when an answer has ended (finished, failed or stopped).")

(defvar-local tandem-chat--messages nil "The conversation so far: a list of (:role :content) plists.")
(defvar-local tandem-chat--references nil "Every reference of the conversation so far, in order.")
(defvar-local tandem-chat--client nil "How this chat reaches the server (see `tandem-client-functions').")
(defvar-local tandem-chat--cancel nil "The function that stops the answer being streamed, if one is.")

(defvar tandem-chat-mode-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "C-c C-c") #'tandem-chat)
    (define-key map (kbd "C-c C-k") #'tandem-chat-stop)
    map)
  "Keys of the chat buffer: C-c C-c asks a follow-up, C-c C-k stops the answer.")

(define-minor-mode tandem-chat-mode
  "The *tandem chat* buffer's keys (`tandem-chat-mode-map')."
  :lighter " tandem-chat")

(defun tandem-chat--file-refs (text)
  "The paths of the #file:PATH references in TEXT, in order, once each (trailing punctuation left out)."
  (let ((start 0) out)
    (while (string-match "#file:\\([^ \t\n]+\\)" text start)
      (setq start (match-end 0))
      (let ((path (replace-regexp-in-string "[.,;:)!?]+\\'" "" (match-string 1 text))))
        (unless (or (string-empty-p path) (member path out)) (push path out))))
    (nreverse out)))

(defun tandem-chat--buffer ()
  "The chat buffer, made ready on first use."
  (let ((buf (get-buffer-create "*tandem chat*")))
    (with-current-buffer buf
      (unless tandem-chat-mode
        (if (or (fboundp 'markdown-mode) (require 'markdown-mode nil t)) (markdown-mode) (text-mode))
        (tandem-chat-mode 1)
        (setq buffer-read-only t)))
    buf))

(defun tandem-chat--insert (text)
  "Insert TEXT at the end of the chat buffer (current), moving windows that showed the end."
  (let ((inhibit-read-only t)
        (follow (seq-filter (lambda (w) (= (window-point w) (point-max))) (get-buffer-window-list nil nil t))))
    (save-excursion
      (goto-char (point-max))
      (insert text))
    (dolist (w follow) (set-window-point w (point-max)))))

(defun tandem-chat--reference-line (ref root)
  "How REF reads in the chat: > `path:3-7` (lines) or > `path`."
  (let* ((path (tandem--uri-path (plist-get ref :uri)))
         (shown (if (and root (string-prefix-p (file-name-as-directory (expand-file-name root)) path))
                    (file-relative-name path root)
                  path))
         (range (plist-get ref :range)))
    (if range
        (format "> `%s:%d-%d`\n" shown
                (1+ (plist-get (plist-get range :start) :line))
                (1+ (plist-get (plist-get range :end) :line)))
      (format "> `%s`\n" shown))))

(defun tandem--uri-path (uri)
  "The file name of a file:// URI."
  (if (string-prefix-p "file://" uri) (url-unhex-string (substring uri 7)) uri))

(defun tandem-chat--add-reference (ref)
  "Add REF to the conversation's references unless it is there; non-nil when added."
  (unless (member ref tandem-chat--references)
    (setq tandem-chat--references (append tandem-chat--references (list ref)))
    t))

(defun tandem-chat (prompt &optional beg end new)
  "Ask tandem PROMPT in the *tandem chat* buffer; the answer streams in below it.
With an active region (BEG..END), those lines of the file are sent as a reference; a
#file:PATH in PROMPT (relative to the workspace root) adds that file.  The conversation goes on
with each call (its earlier turns and references are sent again); with a prefix argument (NEW)
it starts afresh.  Returns the chat buffer."
  (interactive
   (list (read-string (if current-prefix-arg "tandem chat (new): " "tandem chat: "))
         (and (use-region-p) (region-beginning))
         (and (use-region-p) (region-end))
         current-prefix-arg))
  (let* ((from (current-buffer))
         (in-chat (buffer-local-value 'tandem-chat-mode from))
         (client (and (not in-chat) (run-hook-with-args-until-success 'tandem-client-functions)))
         (ref (and beg end client buffer-file-name
                   (list :uri (plist-get client :uri)
                         :range (list :start (funcall (plist-get client :position) beg)
                                      :end (funcall (plist-get client :position) end)))))
         (buf (tandem-chat--buffer)))
    (with-current-buffer buf
      (when new
        (tandem-chat-stop)
        (let ((inhibit-read-only t)) (erase-buffer))
        (setq tandem-chat--messages nil tandem-chat--references nil))
      (when client (setq tandem-chat--client client))
      (unless tandem-chat--client
        (user-error "tandem: no tandem server serves this buffer (M-x eglot, or M-x lsp with lsp-tandem)"))
      (when tandem-chat--cancel (user-error "tandem: an answer is still coming (C-c C-k stops it)"))
      (when (string-empty-p (string-trim prompt)) (user-error "tandem: the prompt is empty"))
      (let ((root (plist-get tandem-chat--client :root)))
        (when (and ref (tandem-chat--add-reference ref))
          (tandem-chat--insert (tandem-chat--reference-line ref root)))
        (dolist (path (tandem-chat--file-refs prompt))
          (tandem-chat--add-reference
           (list :uri (concat "file://" (expand-file-name path (or root default-directory)))))))
      (tandem-chat--send prompt))
    (display-buffer buf)
    buf))

(defun tandem-chat--send (prompt)
  "Send the conversation with PROMPT as its next turn; stream the answer (in the chat buffer)."
  (let* ((buf (current-buffer))
         (token (format "tandem-chat-%d" (setq tandem--chat-requests (1+ tandem--chat-requests))))
         (messages (append tandem-chat--messages (list (list :role "user" :content prompt))))
         (params (append (list :messages (apply #'vector messages) :partialResultToken token)
                         (and tandem-chat--references (list :references (apply #'vector tandem-chat--references)))
                         (and tandem-chat-model (list :model tandem-chat-model))))
         (shown "")
         (header nil)
         (finished nil))
    (tandem-chat--insert (format "%s## You\n%s\n\n" (if (= (buffer-size) 0) "" "\n") prompt))
    (setq header (with-current-buffer buf (copy-marker (point-max))))
    (tandem-chat--insert "## tandem\n")
    (let ((finish
           (lambda (text result err)
             (unless finished
               (setq finished t)
               (remhash token tandem--streams)
               (when (buffer-live-p buf)
                 (with-current-buffer buf
                   (setq tandem-chat--cancel nil)
                   (cond
                    (err (tandem-chat--insert (format "%s> %s\n" (if (string-empty-p shown) "" "\n\n") err)))
                    (t
                     ;; A server that sent no (or fewer) partial results: the rest of the text now.
                     (when (and (string-prefix-p shown text) (> (length text) (length shown)))
                       (tandem-chat--insert (substring text (length shown))))
                     (tandem-chat--insert "\n")
                     (setq tandem-chat--messages (append messages (list (list :role "assistant" :content text))))
                     (when-let ((backend (tandem--get result :backend)))
                       (let ((inhibit-read-only t))
                         (save-excursion
                           (goto-char header)
                           (delete-region (point) (line-end-position))
                           (insert (format "## tandem · %s (%s)" backend
                                           (if (equal (tandem--get result :location) "cloud") "cloud" "on-prem"))))))))
                   (run-hooks 'tandem-chat-done-hook)))))))
      (puthash token (lambda (value)
                       (let ((text (tandem--get value :text)))
                         (when (and (stringp text) (buffer-live-p buf))
                           (setq shown (concat shown text))
                           (with-current-buffer buf (tandem-chat--insert text)))))
               tandem--streams)
      (let ((cancel (funcall (plist-get tandem-chat--client :request) "tandem/chat" params
                             (lambda (result) (funcall finish (or (tandem--get result :text) shown) result nil))
                             (lambda (error)
                               (funcall finish nil nil
                                        (if (equal (tandem--get error :code) -32800) "stopped"
                                          (format "error: %s" (or (tandem--get error :message) error))))))))
        (setq tandem-chat--cancel
              (lambda ()
                (funcall cancel)
                (funcall finish nil nil "stopped")))))))

(defun tandem-chat-stop ()
  "Stop the answer being streamed into the chat buffer (the server aborts the backend's request)."
  (interactive)
  (when-let ((buf (get-buffer "*tandem chat*")))
    (with-current-buffer buf
      (when tandem-chat--cancel (funcall tandem-chat--cancel)))))

;;; Next edits: textDocument/copilotInlineEdit, previewed with overlays.

(defface tandem-next-edit-delete '((t :inherit diff-removed :strike-through t))
  "The text a next edit removes.")

(defface tandem-next-edit-insert '((t :inherit diff-added))
  "The text a next edit puts in.")

(defcustom tandem-next-edit-delay 0.3
  "Seconds without a change before `tandem-next-edit-mode' asks for the next edit."
  :type 'number)

(defvar-local tandem--next-edit nil
  "The next edit shown: a plist (:edits :overlays :tick :version :client :top :bottom).")
(defvar-local tandem--next-edit-cancel nil "Cancels the next-edit request in flight, if one is.")
(defvar-local tandem--next-edit-timer nil "`tandem-next-edit-mode''s timer, until the edit settles.")
(defvar-local tandem--next-edit-asked nil "The `buffer-chars-modified-tick' last asked about.")

(defvar tandem-next-edit-shown-hook nil
  "Run in the buffer when a next edit is shown.")

(defvar tandem-next-edit-preview-mode-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "TAB") #'tandem-next-edit-accept)
    (define-key map (kbd "<tab>") #'tandem-next-edit-accept)
    (define-key map (kbd "C-g") #'tandem-next-edit-dismiss)
    map)
  "Keys while a next edit is shown: TAB applies it, C-g dismisses it.")

(define-minor-mode tandem-next-edit-preview-mode
  "On while a next edit is shown in the buffer; its keys apply or dismiss it."
  :lighter " next-edit"
  :keymap tandem-next-edit-preview-mode-map)

(defun tandem--lsp-point (position)
  "The buffer position of POSITION, an LSP position (UTF-16 code units)."
  (save-excursion
    (save-restriction
      (widen)
      (goto-char (point-min))
      (forward-line (tandem--get position :line))
      (let ((units (tandem--get position :character))
            (eol (line-end-position)))
        (while (and (> units 0) (< (point) eol))
          (setq units (- units (if (> (char-after) #xFFFF) 2 1)))
          (forward-char 1))
        (point)))))

(defun tandem--next-edit-report (shown command)
  "Run COMMAND (default each edit's own) with the arguments of every edit in SHOWN ({id})."
  (let ((execute (plist-get (plist-get shown :client) :execute)))
    (seq-doseq (edit (plist-get shown :edits))
      (let ((cmd (tandem--get edit :command)))
        (when cmd
          (condition-case err
              (funcall execute (or command (tandem--get cmd :command)) (tandem--get cmd :arguments))
            (error (message "tandem: %s: %s" (or command "next edit") (error-message-string err)))))))))

(defun tandem--next-edit-clear ()
  "Remove the preview (its overlays and keys) without telling the server."
  (when tandem--next-edit
    (mapc #'delete-overlay (plist-get tandem--next-edit :overlays))
    (setq tandem--next-edit nil))
  (tandem-next-edit-preview-mode -1))

(defun tandem-next-edit-dismiss ()
  "Hide the next edit shown and tell the server it was refused (`tandem.nextEditDismissed')."
  (interactive)
  (let ((shown tandem--next-edit))
    (tandem--next-edit-clear)
    (when shown (tandem--next-edit-report shown "tandem.nextEditDismissed"))))

(defun tandem-next-edit-accept ()
  "Apply the next edit shown and run its command (`tandem.nextEditAccepted').
Refused when the buffer changed since it was made.  Point goes to the end of the first edit."
  (interactive)
  (let ((shown tandem--next-edit))
    (cond
     ((not shown) (user-error "tandem: no next edit is shown"))
     ((or (/= (buffer-chars-modified-tick) (plist-get shown :tick))
          (not (equal (funcall (plist-get (plist-get shown :client) :version)) (plist-get shown :version))))
      (tandem-next-edit-dismiss)
      (user-error "tandem: the next edit was made for an older version of the buffer: not applied"))
     (t
      (tandem--next-edit-clear)
      ;; Every range to markers first: each replacement then leaves the others' places right.
      (let* ((edits (mapcar (lambda (e)
                              (let ((range (tandem--get e :range)))
                                (list (copy-marker (tandem--lsp-point (tandem--get range :start)))
                                      (copy-marker (tandem--lsp-point (tandem--get range :end)) t)
                                      (tandem--get e :text))))
                            (plist-get shown :edits)))
             (first (car (sort (copy-sequence edits) (lambda (a b) (< (car a) (car b)))))))
        (save-excursion
          (dolist (e edits)
            (goto-char (nth 0 e))
            (delete-region (nth 0 e) (nth 1 e))
            (insert (nth 2 e))))
        (goto-char (nth 1 first))
        (dolist (e edits) (set-marker (nth 0 e) nil) (set-marker (nth 1 e) nil)))
      (setq tandem--next-edit-asked nil)
      (tandem--next-edit-report shown nil)))))

(defun tandem--next-edit-show (client edits tick version asked-at)
  "Preview EDITS (made at TICK and VERSION, asked at point ASKED-AT) with overlays; tell CLIENT's server."
  (tandem--next-edit-clear)
  (let (overlays (top asked-at) (bottom asked-at))
    (seq-doseq (edit edits)
      (let* ((range (tandem--get edit :range))
             (beg (tandem--lsp-point (tandem--get range :start)))
             (end (tandem--lsp-point (tandem--get range :end)))
             (text (tandem--get edit :text))
             (ov (make-overlay beg end nil t nil)))
        (overlay-put ov 'tandem-next-edit t)
        (when (< beg end) (overlay-put ov 'face 'tandem-next-edit-delete))
        (unless (string-empty-p text) (overlay-put ov 'after-string (propertize text 'face 'tandem-next-edit-insert)))
        (setq top (min top beg) bottom (max bottom end))
        (push ov overlays)))
    (setq tandem--next-edit (list :edits edits :overlays (nreverse overlays) :tick tick :version version :client client
                                  :top (save-excursion (goto-char top) (line-beginning-position))
                                  :bottom (save-excursion (goto-char bottom) (line-end-position))))
    (tandem-next-edit-preview-mode 1)
    (add-hook 'post-command-hook #'tandem--next-edit-watch nil t)
    (seq-doseq (edit edits) (funcall (plist-get client :notify) "textDocument/didShowInlineEdit" (list :item edit)))
    (run-hooks 'tandem-next-edit-shown-hook)))

(defun tandem--next-edit-watch ()
  "After each command: a change, or point off the lines from where it was asked to the edits,
dismisses the edit shown; a change cancels the request in flight."
  (when (and tandem--next-edit-cancel tandem--next-edit-asked (/= tandem--next-edit-asked (buffer-chars-modified-tick)))
    (funcall tandem--next-edit-cancel)
    (setq tandem--next-edit-cancel nil))
  (let ((shown tandem--next-edit))
    (when (and shown (not (memq this-command '(tandem-next-edit-accept tandem-next-edit-dismiss tandem-next-edit)))
               (or (/= (buffer-chars-modified-tick) (plist-get shown :tick))
                   (< (point) (plist-get shown :top)) (> (point) (plist-get shown :bottom))))
      (tandem-next-edit-dismiss))))

(defun tandem-next-edit ()
  "Ask the server for the edit you will make next and preview it in the buffer.
The text it removes is struck through, the text it puts in follows it; TAB applies it (and
`tandem.nextEditAccepted' counts it), C-g dismisses it (`tandem.nextEditDismissed'), and so
does a change or moving point away.  One request per buffer: asking again cancels the one
before; an answer for text that changed meanwhile is dropped."
  (interactive)
  (let* ((client (tandem--client))
         (buffer (current-buffer))
         (tick (buffer-chars-modified-tick))
         (asked-at (point))
         ;; The client sends any change not yet sent first: the version is the server's.
         (version (funcall (plist-get client :version)))
         (params (list :textDocument (list :uri (plist-get client :uri) :version version)
                       :position (funcall (plist-get client :position) (point)))))
    (when tandem--next-edit-cancel (funcall tandem--next-edit-cancel))
    (when tandem--next-edit (tandem-next-edit-dismiss))
    (setq tandem--next-edit-asked tick)
    (add-hook 'post-command-hook #'tandem--next-edit-watch nil t)
    (let (cancel)
      (setq cancel
            (funcall (plist-get client :request) "textDocument/copilotInlineEdit" params
                     (lambda (result)
                       (when (buffer-live-p buffer)
                         (with-current-buffer buffer
                           (when (eq tandem--next-edit-cancel cancel) (setq tandem--next-edit-cancel nil))
                           (let ((edits (tandem--get result :edits)))
                             (when (and (= tick (buffer-chars-modified-tick)) (> (length edits) 0)
                                        (seq-every-p (lambda (e) (equal (tandem--get e :textDocument :version) version)) edits))
                               (tandem--next-edit-show client edits tick version asked-at))))))
                     (lambda (err)
                       (when (buffer-live-p buffer)
                         (with-current-buffer buffer
                           (when (eq tandem--next-edit-cancel cancel) (setq tandem--next-edit-cancel nil))))
                       (message "tandem: next edit: %s" (tandem--get err :message)))))
      (setq tandem--next-edit-cancel cancel))))

(defvar tandem-next-edit-mode) ; defined below by `define-minor-mode'

(defun tandem--next-edit-changed (&rest _)
  "`tandem-next-edit-mode': ask once the edits settle (`tandem-next-edit-delay')."
  (when tandem--next-edit-timer (cancel-timer tandem--next-edit-timer))
  (let ((buffer (current-buffer)))
    (setq tandem--next-edit-timer
          (run-at-time tandem-next-edit-delay nil
                       (lambda ()
                         (when (and (buffer-live-p buffer) (eq buffer (window-buffer (selected-window))))
                           (with-current-buffer buffer
                             (setq tandem--next-edit-timer nil)
                             (when (and tandem-next-edit-mode (not (eql tandem--next-edit-asked (buffer-chars-modified-tick)))
                                        (run-hook-with-args-until-success 'tandem-client-functions))
                               (condition-case err (tandem-next-edit)
                                 (error (message "tandem: next edit: %s" (error-message-string err))))))))))))

(define-minor-mode tandem-next-edit-mode
  "Ask for the next edit by itself, `tandem-next-edit-delay' seconds after the last change.
Each time asks the model: switch it on where you want next edits.  On switching it on it asks
once, as the server keeps the buffer's edit history from its first next-edit request on."
  :lighter nil
  (if tandem-next-edit-mode
      (progn
        (add-hook 'after-change-functions #'tandem--next-edit-changed nil t)
        ;; Switched on from a hook that also runs where no tandem serves the buffer (yet): quiet there.
        (when (run-hook-with-args-until-success 'tandem-client-functions)
          (condition-case err (tandem-next-edit)
            (error (message "tandem: next edit: %s" (error-message-string err))))))
    (remove-hook 'after-change-functions #'tandem--next-edit-changed t)
    (when tandem--next-edit-timer (cancel-timer tandem--next-edit-timer))))

(provide 'tandem)
;;; tandem.el ends here
