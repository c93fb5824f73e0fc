import sys

from sparkgan.cli.main import main

sys.exit(main())
