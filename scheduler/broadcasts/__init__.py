"""Clinic broadcasts: the rules a broadcast keeps (``rules``, ``errors``), choosing its audience
(``audience``), what staff do with it (``service``), delivering it in the background, paced
(``sender``, ``pacing``), and its report (``report``)."""
