"""The ground floor: the Script (the job's document) and its revisions (revision: hashes, edits, stale
lines), the typed stage contracts and the stage runner (content-addressed, atomic), settings, errors, object
storage (local folder and S3), progress events and the choice of engines from the settings. May import
`models`, never another `pipeline` package.
"""
