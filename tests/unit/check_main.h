/* One main() for the check suites: runs the suite built by the includer's
 * make_suite() and exits non-zero when a test failed. */
#ifndef FS_TEST_CHECK_MAIN_H
#define FS_TEST_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

static Suite *make_suite(void);

int
main(void)
{
	SRunner *r = srunner_create(make_suite());
	int failed;

	srunner_run_all(r, CK_NORMAL);
	failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
