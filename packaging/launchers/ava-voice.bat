@echo off
rem Windows launcher: double-click opens a console window and runs ava-voice with the users
rem config (%APPDATA%\ava-voice\config.toml). Keys from %APPDATA%\ava-voice\env (KEY=value
rem lines) are loaded when present. On an error the window stays open so it can be read.
setlocal EnableExtensions
set "AVA_ENV=%APPDATA%\ava-voice\env"
if exist "%AVA_ENV%" (
    for /f "usebackq eol=# tokens=1,* delims==" %%A in ("%AVA_ENV%") do set "%%A=%%B"
)
set "AVA_EXE=%~dp0ava-voice.exe"
if not exist "%AVA_EXE%" set "AVA_EXE=%~dp0..\..\..\bin\ava-voice.exe"
if not exist "%AVA_EXE%" set "AVA_EXE=ava-voice.exe"
cd /d "%USERPROFILE%"
"%AVA_EXE%" %*
set "AVA_STATUS=%ERRORLEVEL%"
if not "%AVA_STATUS%"=="0" (
    echo.
    echo ava-voice exited with status %AVA_STATUS%. Try: ava-voice doctor
    pause
)
exit /b %AVA_STATUS%
