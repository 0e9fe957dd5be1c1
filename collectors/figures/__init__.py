"""An agency's file of figures, its own room: the template it downloads (``template``, ``workbooks``), its file read into
text cells (``read`` and its readers), those cells into typed figures (``cells``), checked as every way in's figures
are (``validate``), stored through the door (``service``), and its report in its own terms (``report``)."""
