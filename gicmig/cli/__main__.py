import sys

from gicmig.cli import main

sys.exit(main())
