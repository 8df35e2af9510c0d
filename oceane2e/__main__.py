from oceane2e.cpu_isa import pin_cpu_vector_paths
from oceane2e.threads import prefer_passive_openmp

prefer_passive_openmp()  # before anything imports torch (see oceane2e.threads)
pin_cpu_vector_paths()  # the vector paths asked for, before numpy and torch load (see oceane2e.cpu_isa)

import sys  # noqa: E402

from oceane2e.cli import main  # noqa: E402

sys.exit(main())
