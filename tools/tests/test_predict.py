"""Tests of tools/predict.py: how ./tools/break reads a learner's prediction and compares it
with what happened. Conservative matching: names in full, a part of one name, a prefix with
a star, a count; negated clauses; the variants of a case as one; a crash as a crash. The
examples are predictions learners wrote for lessons 02, 05 and 09."""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE)))

import predict  # noqa: E402

EPOLL = ["CreateGivesACloexecEpollFd", "PipeIsReadableAfterWriteWithTheGivenData",
         "WritableEndIsReportedUntilThePipeIsFull", "LevelTriggeredReportsAgainWhileDataRemains",
         "EdgeTriggeredReportsOnceUntilNewDataArrives", "EdgeTriggeredNeedsDrainingToEagain",
         "OneShotDisablesTheFdUntilModify", "ZeroTimeoutReturnsAtOnce",
         "FiniteTimeoutWithNothingReadyReturnsZeroAfterTheTimeout", "NegativeTimeoutWaitsUntilAnEvent",
         "WaitRetriesEintrAndStillReportsTheEvent", "WaitRetriesEintrWithNoTimeoutUntilAnEvent",
         "WaitRetriesEintrUntilTheTimeoutIsUsedUp", "DeleteStopsReports", "AddTwiceThrowsEexistNamingTheCallAndFd",
         "ModifyOrDeleteOfAnUnregisteredFdThrowsEnoent", "AddOfAClosedFdThrowsEbadf", "AddOfARegularFileThrowsEperm",
         "ClosedPeerSocketReportsRdhupAndHup", "ClosedPipeWriteEndReportsHupWithoutBeingAsked",
         "RegistrationBelongsToTheOpenFileNotToTheNumber"]  # lesson 02's epoll_test on Linux: 21 cases
CASES = [("epoll_test", "EpollTest." + n) for n in EPOLL]
EINTR = [c for c in CASES if "WaitRetriesEintr" in c[1]]


class PredictionTest(unittest.TestCase):
    def named(self, prediction, cases=CASES):
        return sorted(predict.key(c).split(".")[1] for _, c in predict.named_cases(prediction, cases))

    def told(self, prediction, failing, cases=CASES, **kw):
        return predict.compare(prediction, sorted(failing), [c for c in cases if c not in failing], **kw)

    def test_a_name_in_full_in_any_spelling(self):
        self.assertEqual(self.named("zero_timeout_returns_at_once fails"), ["ZeroTimeoutReturnsAtOnce"])
        self.assertEqual(self.named("EpollTest.DeleteStopsReports!"), ["DeleteStopsReports"])
        self.assertEqual(self.named("I think delete stops reports breaks"), ["DeleteStopsReports"])

    def test_a_prefix_with_a_star_names_every_case_it_fits(self):
        self.assertEqual(self.named("the WaitRetriesEintr* tests"), sorted(c[1][10:] for c in EINTR))
        self.assertEqual(self.named("EpollTest.EdgeTriggered*"), ["EdgeTriggeredNeedsDrainingToEagain",
                                                                  "EdgeTriggeredReportsOnceUntilNewDataArrives"])

    def test_a_part_of_one_name_names_it_and_a_part_of_several_names_none(self):
        self.assertEqual(self.named("EdgeTriggeredNeedsDraining"), ["EdgeTriggeredNeedsDrainingToEagain"])
        self.assertEqual(self.named("WaitRetriesEintr fails"), [])
        r = predict.read("WaitRetriesEintr fails", [c for _, c in CASES])
        self.assertEqual([(w, len(ks)) for w, ks in r.unclear], [("WaitRetriesEintr", 3)])
        told = self.told("WaitRetriesEintr fails", EINTR)
        self.assertIn('"WaitRetriesEintr" fits 3 cases, so it counts for none: write a name in full, or '
                      'WaitRetriesEintr* for all of them.', "\n".join(told))

    def test_prose_names_nothing(self):
        for prose in ("the three EINTR tests", "edge triggered, needs draining", "the tests will fail when it waits",
                      "Wait throws EINTR", "SysError", ""):
            self.assertEqual(self.named(prose), [], prose)

    def test_forget_eintr(self):
        """Lesson 02, forget-eintr: a wildcard, a count, and a negated clause."""
        prediction = "the three WaitRetriesEintr* tests fail with Wait threw SysError EINTR; the other 18 pass"
        self.assertEqual(self.named(prediction), sorted(c[1][10:] for c in EINTR))
        told = self.told(prediction, EINTR)
        self.assertEqual(told, [
            "How your prediction was read:",
            '  "WaitRetriesEintr*" named 3 cases as failing: WaitRetriesEintrAndStillReportsTheEvent, '
            "WaitRetriesEintrUntilTheTimeoutIsUsedUp, WaitRetriesEintrWithNoTimeoutUntilAnEvent",
            '  "three": a count, 3 failing',
            '  "18": a count, 18 passing',
            "Your prediction named 3 of the 3 failing cases: all of them. Well predicted.",
            "You said 3 would fail; 3 did. Right.",
            "You said 18 would pass; 18 did. Right."])
        self.assertNotIn("NegativeTimeoutWaitsUntilAnEvent", "\n".join(told))

    def test_round_the_remaining_time_down(self):
        """Lesson 02, round-the-remaining-time-down: "1-2 ms" is no count, "might pass" names nothing."""
        prediction = ("only WaitRetriesEintrUntilTheTimeoutIsUsedUp notices, about 1-2 ms early, might pass by "
                      "luck; the other 20 pass")
        failing = [("epoll_test", "EpollTest.WaitRetriesEintrUntilTheTimeoutIsUsedUp")]
        self.assertEqual(self.named(prediction), ["WaitRetriesEintrUntilTheTimeoutIsUsedUp"])
        told = self.told(prediction, failing)
        self.assertEqual(told[1:], [
            '  "WaitRetriesEintrUntilTheTimeoutIsUsedUp" named a case as failing',
            '  "20": a count, 20 passing',
            "Your prediction named 1 of the 1 failing case: all of them. Well predicted.",
            "You said 20 would pass; 20 did. Right."])
        for other in ("FiniteTimeout", "ZeroTimeoutReturnsAtOnce", "also named"):
            self.assertNotIn(other, "\n".join(told))

    def test_negated_clauses(self):
        for prediction in ("everything else passes, DeleteStopsReports included", "DeleteStopsReports does not fail",
                           "DeleteStopsReports won't notice", "all fail except DeleteStopsReports"):
            r = predict.read(prediction, [c for _, c in CASES])
            self.assertEqual((list(r.failing), list(r.passing)), ([], ["EpollTest.DeleteStopsReports"]), prediction)
        r = predict.read("everything passes except zero_timeout_returns_at_once", [c for _, c in CASES])
        self.assertEqual(list(r.failing), ["EpollTest.ZeroTimeoutReturnsAtOnce"])
        told = self.told("DeleteStopsReports passes, WaitRetriesEintr* fail", EINTR + CASES[13:14])
        self.assertIn("You said DeleteStopsReports would pass; it failed.", told)

    def test_counts(self):
        def counts(p):
            r = predict.read(p, [])
            return r.fail_count, r.pass_count
        self.assertEqual(counts("I think 3 will fail"), (3, None))
        self.assertEqual(counts("3"), (3, None))
        self.assertEqual(counts("nothing fails"), (0, None))
        self.assertEqual(counts("no test fails, it is 2 ms early"), (0, None))
        self.assertEqual(counts("it fails in 3 of 8 runs, 1 ms early"), (None, None))
        self.assertEqual(counts("some"), (None, None))
        self.assertEqual(self.told("three", EINTR)[-1], "You said 3 would fail; 3 did. Right.")
        self.assertIn("no prediction", self.told("", EINTR)[0])

    def test_per_backend_copies_of_a_case_are_one_case(self):
        """Lesson 05, check-then-register-in-two-locks: only the kqueue copy fails."""
        names = ["RegistryThreadsTest.TwoThreadsRegisteringOneFdExactlyOneWins",
                 "RegistryThreadsTest.RegisterWakesAWaitBlockedInAnotherThread"]
        cases = [(t, n) for t in ("registry_epoll_test", "registry_kqueue_test") for n in names]
        failing = [("registry_kqueue_test", names[0])]
        for prediction in ("TwoThreadsRegisteringOneFdExactlyOneWins fails on kqueue; on epoll it passes",
                           "TwoThreadsRegisteringOneFdExactlyOneWins fails on kqueue; the epoll copy of "
                           "TwoThreadsRegisteringOneFdExactlyOneWins passes", "TwoThreadsRegistering* fails"):
            told = self.told(prediction, failing, cases)
            self.assertIn("Your prediction named 1 of the 1 failing case: all of them. Well predicted.", told)
            self.assertFalse([l for l in told if "would fail" in l or "would pass" in l], told)

    def test_variant_words_name_no_case(self):
        cases = [("t", "Kinds/EarlyDrop.WakeThenDropBeforePoll/kqueue_user_on_kqueue"),
                 ("t", "Kinds/EarlyDrop.WakeThenDropBeforePoll/eventfd_on_epoll"),
                 ("t", "WakerKinds.KqueueUserNeedsTheKqueueBackend")]
        self.assertEqual(predict.named_cases("kqueue_user survives: its event lives in the kqueue", cases), set())
        self.assertEqual(len(predict.named_cases("WakeThenDropBeforePoll fails, but not for kqueue_user", cases)), 2)
        told = self.told("WakeThenDropBeforePoll fails, but not for kqueue_user", cases[1:2], cases)
        self.assertIn("Your prediction named 1 of the 1 failing case: all of them. Well predicted.", told)

    def test_a_crash_is_a_crash(self):
        """Lesson 09, deregister-in-the-source-destructor: the whole target dies of SIGSEGV."""
        known = [("early_drop_test", "Kinds/EarlyDrop.HandleOutlivesItsPoll/eventfd_on_epoll")]
        told = predict.compare("HandleOutlivesItsPoll fails: a use after free", [], [],
                               whole={"early_drop_test": "crash"}, known=known)
        text = "\n".join(told)
        self.assertNotIn("Nothing failed", text)
        self.assertNotIn("Well predicted", text)
        self.assertIn("early_drop_test died before it could report its cases one by one: a crash. Your prediction "
                      "did not speak of a crash", text)
        self.assertIn("HandleOutlivesItsPoll gave no result of its own, so it cannot be compared.", text)
        told = predict.compare("the binary crashes with SIGSEGV", [], [], whole={"early_drop_test": "crash"})
        self.assertIn("You predicted a crash: right.", told[-1])
        self.assertIn("You predicted a crash; no test binary crashed.",
                      self.told("it crashes", EINTR))

    def test_nothing_failed(self):
        self.assertEqual(self.told("nothing fails", [])[-1],
                         "Nothing failed, and your prediction named no failing test. Well predicted.")
        self.assertIn("You said DeleteStopsReports would fail; it passed.", self.told("DeleteStopsReports fails", []))


if __name__ == "__main__":
    unittest.main()
