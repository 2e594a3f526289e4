"""Describing a picture in speech, shared by the products that do it (audio description; a dub's described
track): the describer speaks and places each description (speaking), the clips laid on the programme's
timeline (layout), and the AD mix: the programme ducked under the descriptions, normalized, marked (admixing).
"""
