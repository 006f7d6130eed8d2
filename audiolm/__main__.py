import sys

from audiolm.cli import main

sys.exit(main())
