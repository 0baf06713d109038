;;; driver.el --- what the Emacs test drivers share  -*- lexical-binding: t -*-

;; Recording what a driver saw (tandem's messages in the echo area among it), waiting for a
;; condition, and handing the results to test/clients/emacs.test.ts as JSON in $TANDEM_TEST_OUT
;; when Emacs exits.

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

(defun tandem-test-write-and-exit (code)
  "Write the recorded results (the messages too) to $TANDEM_TEST_OUT and exit Emacs with CODE."
  (tandem-test-record 'messages (vconcat (reverse tandem-test-messages)))
  (with-temp-file (getenv "TANDEM_TEST_OUT")
    (insert (json-encode tandem-test-results)))
  (kill-emacs code))

(provide 'tandem-test-driver)
;;; driver.el ends here
