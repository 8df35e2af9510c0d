from oceane2e.threads import prefer_passive_openmp

prefer_passive_openmp()  # before anything imports torch (see oceane2e.threads)

import sys  # noqa: E402

from oceane2e.cli import main  # noqa: E402

sys.exit(main())
