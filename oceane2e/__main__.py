import sys

from oceane2e.cli import main

sys.exit(main())
