;;; driver.el --- what the Emacs test drivers share  -*- lexical-binding: t -*-

;; Recording what a driver saw, and handing it to test/clients/emacs.test.ts as JSON in
;; $TANDEM_TEST_OUT when Emacs exits.

(require 'json)

(defvar tandem-test-results nil
  "What the driver recorded: an alist written as a JSON object.")

(defun tandem-test-record (key value)
  "Record VALUE under KEY."
  (setq tandem-test-results (cons (cons key value) tandem-test-results)))

(defun tandem-test-write-and-exit (code)
  "Write the recorded results to $TANDEM_TEST_OUT and exit Emacs with CODE."
  (with-temp-file (getenv "TANDEM_TEST_OUT")
    (insert (json-encode tandem-test-results)))
  (kill-emacs code))

(provide 'tandem-test-driver)
;;; driver.el ends here
