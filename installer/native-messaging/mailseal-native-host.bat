@echo off
rem The executable named in Thunderbird's native-messaging host manifest on Windows. Thunderbird
rem runs it with the manifest's path and the add-on's id as arguments, which `mailseald
rem native-host` ignores. Installed beside mailseald.exe.
"%~dp0mailseald.exe" native-host %*
