import sys

from ingestbench.cli import main

sys.exit(main())
